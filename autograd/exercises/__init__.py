"""Exercises: write your own Value and let the checker tell you where its gradients go wrong.

``check(YourValue)`` builds every graded graph (``GRAPHS``, from ``a + b`` to a chain 5,000 ops
deep and two ``backward()`` calls) on your class and on ``autograd.Value``, compares the leaves'
gradients, and for the first graph that fails names the node where the wrong gradient enters and
draws your graph with the wrong gradients marked. From a terminal:
``python -m autograd.exercises check my_value.py [--out graph.svg]``.

Your class is read the way micrograd's is: ``data``, ``grad``, ``_prev`` (or ``_children``,
``parents``), ``_op`` (or ``op``), ``backward()`` and, if it has them, the per-node
``_backward`` closures (see ``autograd.exercises.adapter``). ``reference`` holds one answer,
``bugs`` five classes with the classic mistakes, ``lessons`` the checks of notebook 08.
"""
from .checker import DEFAULT_TIMEOUT, check
from .graphs import GRAPHS, Graph
from .report import Entry, GraphResult, Report, Row, band, relative_error

__all__ = ["check", "Report", "GraphResult", "Row", "Entry", "GRAPHS", "Graph", "band",
           "relative_error", "DEFAULT_TIMEOUT"]
