"""The views: every way this package shows a graph, each built on the public graph layer.

``draw`` (a Graphviz picture), ``explain`` (the chain rule as text), ``explore`` (a page to step
through backward), ``backward_steps`` (the steps as data), and the expression parser the command
line and the pages share.
"""
from .drawing import draw
from .explaining import Explanation, explain
from .explorer import Explorer, explore
from .steps import backward_steps

__all__ = ["draw", "explain", "Explanation", "explore", "Explorer", "backward_steps"]
