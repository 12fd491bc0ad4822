"""Backpropagation you can see: a scalar autograd engine that records every operation.

This is what a user types. Extending the engine (a new op, the op table, ``apply``) lives in
``autograd.extend``; reading a recorded graph (walks, local partials, names, ``graph_data``)
in ``autograd.graph``, the layer every tool is built on.
"""
import importlib
import warnings

from .check import GradcheckError, gradcheck
# autograd.compile and autograd.sum are public on purpose, but kept out of __all__ (below).
from .compile import Compiled, NativeFallbackWarning, NativeUnavailable, compile  # noqa: A004, F401
from .engine import Constant, Value, dot, grad
from .engine import sum  # noqa: A004, F401 - autograd.sum on purpose, kept out of __all__
from .forward import Passes, count_passes, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp
from .modes import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .views import Explanation, Explorer, backward_steps, draw, explain, explore

__all__ = [
    # `sum` and `compile` stay importable as autograd.sum and autograd.compile but are left out
    # here, so that `from autograd import *` does not replace the builtins of those names.
    "Value", "Constant", "grad", "value_and_grad", "no_grad", "enable_grad", "is_grad_enabled",
    "detect_anomaly", "dot", "gradcheck", "GradcheckError",
    "jvp", "vjp", "jacfwd", "jacrev", "hessian", "hvp", "count_passes", "Passes",
    "draw", "explain", "Explanation", "explore", "Explorer", "backward_steps",
    "Compiled", "NativeUnavailable", "NativeFallbackWarning",
]

# Names that left the front door, importable here for one more release with a warning.
_MOVED = {
    **dict.fromkeys(["Op", "OPS", "apply", "primitive", "Primitive"], "autograd.extend"),
    "forwardprop": "autograd.forward",
    **dict.fromkeys(["topological_order", "backprop", "graph_data",
                     "BackwardState", "backward_state"], "autograd.graph"),
    **dict.fromkeys(["Step", "steps_widget", "save_steps_html"], "autograd.views.steps"),
}


def __getattr__(name: str):
    if name not in _MOVED:
        raise AttributeError(f"module 'autograd' has no attribute {name!r}")
    home = _MOVED[name]
    warnings.warn(f"autograd.{name} moved to {home}.{name}; the old name goes in the next "
                  f"release", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(home), name)
