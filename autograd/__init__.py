"""A scalar autograd engine that records every operation and shows how backprop flows."""
from .check import GradcheckError, gradcheck
from .compile import Compiled, compile
from .drawing import draw
from .engine import (Constant, Value, apply, detect_anomaly, dot, enable_grad, grad,
                     is_grad_enabled, no_grad, primitive, sum, topological_order, value_and_grad)
from .explaining import Explanation, explain
from .forward import (Passes, count_passes, forwardprop, hessian, hvp, jacfwd, jacrev, jvp,
                      vjp)
from .graph import graph_data
from .ops import OPS, Op
from .steps import Step, backward_steps, save_steps_html, steps_widget

__all__ = [
    "Value", "Constant", "Op", "OPS", "apply", "primitive", "sum", "dot", "grad",
    "value_and_grad", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
    "gradcheck", "GradcheckError", "topological_order",
    "compile", "Compiled",
    "jvp", "vjp", "jacfwd", "jacrev", "hessian", "hvp", "forwardprop", "count_passes", "Passes",
    "graph_data", "draw", "explain", "Explanation", "backward_steps", "Step", "save_steps_html",
    "steps_widget",
]
