"""A scalar autograd engine that records every operation and shows how backprop flows."""
from .check import GradcheckError, gradcheck
# autograd.compile and autograd.sum are public on purpose, but kept out of __all__ (below).
from .compile import Compiled, NativeFallbackWarning, NativeUnavailable, compile  # noqa: A004, F401
from .drawing import draw
from .engine import (Constant, Primitive, Value, apply, backprop, detect_anomaly, dot,
                     enable_grad, grad, is_grad_enabled, no_grad, primitive,
                     sum,  # noqa: A004, F401 - autograd.sum on purpose, kept out of __all__
                     topological_order, value_and_grad)
from .explaining import Explanation, explain
from .explorer import Explorer, explore
from .forward import (Passes, count_passes, forwardprop, hessian, hvp, jacfwd, jacrev, jvp,
                      vjp)
from .graph import BackwardState, backward_state, graph_data
from .ops import OPS, Op
from .steps import Step, backward_steps, save_steps_html, steps_widget

__all__ = [
    # `sum` and `compile` stay importable as autograd.sum and autograd.compile but are left out
    # here, so that `from autograd import *` does not replace the builtins of those names.
    "Value", "Constant", "Op", "OPS", "apply", "primitive", "Primitive", "dot", "grad",
    "value_and_grad", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly",
    "gradcheck", "GradcheckError", "topological_order", "backprop",
    "Compiled", "NativeUnavailable", "NativeFallbackWarning",
    "jvp", "vjp", "jacfwd", "jacrev", "hessian", "hvp", "forwardprop", "count_passes", "Passes",
    "graph_data", "BackwardState", "backward_state", "draw", "explain", "Explanation",
    "explore", "Explorer", "backward_steps", "Step", "save_steps_html", "steps_widget",
]
