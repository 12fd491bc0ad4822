"""leafio: the leaves' numbers moved between Python objects and C buffers by C code.

``ag_read_slot`` and ``ag_write_slot`` read and write the ``data`` or ``grad`` slot of every
node of a list (the engine's ``DATA_SLOT`` and ``Value.grad``): a replay reads its parameters,
and an optimizer writes them back, without a Python loop over them. ``ag_pack_rows`` packs the
rows of ``map()`` and ``batch()`` (a list of lists of floats) into one C array.

A replay in C reads every leaf's data before a forward and adds into every leaf's ``grad``
after a backward: a few hundred Python-level steps per call, which cost more than the C walks
themselves on small graphs. Where CPython's headers are installed, a small library built once
does both through Python's C API (``ctypes.PyDLL`` keeps the interpreter lock during the call);
elsewhere ``helpers()`` is None and the replay does them in Python, with the same results.

``grad`` is written through its slot, found from ``Value.grad``'s member descriptor, and only
where it holds a float: ``old + g`` in C is the float addition ``leaf.grad += g`` performs. Any
other ``grad`` (an int, a Fraction) stops the C loop, and Python adds the rest. A float that
only its slot holds is given its new number in place (no one else can see it change); one held
anywhere else is replaced by a new float, as Python's assignment would.
"""
from __future__ import annotations

import ctypes
import functools
import sys
import sysconfig

from .csource import NativeUnavailable, function, load
from ..engine import Value

__all__ = ["helpers", "slot_mover"]

_CODE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* Rows for map() and batch(): a list of n lists of k floats into out, row after row (as
   array("d", chain.from_iterable(rows)) would, without a Python step per number). Returns the
   number of rows packed: fewer where a row is not a list of k floats (Python then converts,
   checks and packs them, with its messages). */
Py_ssize_t ag_pack_rows(PyObject *rows, Py_ssize_t k, double *out) {
    if (!PyList_CheckExact(rows)) return 0;
    Py_ssize_t n = PyList_GET_SIZE(rows);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyList_CheckExact(row) || PyList_GET_SIZE(row) != k) return i;
        for (Py_ssize_t j = 0; j < k; j++) {
            PyObject *x = PyList_GET_ITEM(row, j);
            if (!PyFloat_Check(x)) return i;
            out[i * k + j] = PyFloat_AS_DOUBLE(x);
        }
    }
    return n;
}

/* *p becomes a float of value v. The float there now is changed in place where nothing else
   holds it (a float, its reference count 1: no one can see the change, so it is the same as
   putting a new float there), which spares an allocation and a free per number; else a new
   float replaces it. Returns 0, -1 without memory. */
static int ag_set(PyObject **p, double v) {
    PyObject *old = *p;
    if (old != NULL && Py_REFCNT(old) == 1 && PyFloat_CheckExact(old)) {
        ((PyFloatObject *)old)->ob_fval = v;
        return 0;
    }
    PyObject *f = PyFloat_FromDouble(v);
    if (f == NULL) return -1;
    *p = f;
    Py_XDECREF(old);
    return 0;
}

/* For each object of the list, its float slot (the member ``slot`` describes) += add[i].
   Returns the number done: it stops at a slot that holds no float, for Python to go on. */
Py_ssize_t ag_add_into(PyObject *list, PyObject *slot, const double *add) {
    if (!PyList_Check(list)) return 0;
    Py_ssize_t off = ((PyMemberDescrObject *)slot)->d_member->offset;
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject **p = (PyObject **)((char *)PyList_GET_ITEM(list, i) + off);
        if (*p == NULL || !PyFloat_CheckExact(*p)) return i;
        if (ag_set(p, PyFloat_AS_DOUBLE(*p) + add[i])) return -1;
    }
    return n;
}

/* The float in each object's slot into out[i]; returns the number read (it stops at a slot
   that holds no float). */
Py_ssize_t ag_read_slot(PyObject *list, PyObject *slot, double *out) {
    if (!PyList_Check(list)) return 0;
    Py_ssize_t off = ((PyMemberDescrObject *)slot)->d_member->offset;
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = *(PyObject **)((char *)PyList_GET_ITEM(list, i) + off);
        if (x == NULL || !PyFloat_Check(x)) return i;
        out[i] = PyFloat_AS_DOUBLE(x);
    }
    return n;
}

/* Each object's slot set to a float: in[i], or x for all where in is NULL (as
   ``obj.slot = float`` would). Returns the number written, -1 without memory. */
Py_ssize_t ag_write_slot(PyObject *list, PyObject *slot, const double *in, double x) {
    if (!PyList_Check(list)) return 0;
    Py_ssize_t off = ((PyMemberDescrObject *)slot)->d_member->offset;
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject **p = (PyObject **)((char *)PyList_GET_ITEM(list, i) + off);
        if (ag_set(p, in ? in[i] : x)) return -1;
    }
    return n;
}
"""

@functools.lru_cache(maxsize=None)
def helpers() -> ctypes.PyDLL | None:
    """The library with ``ag_pack_rows``, ``ag_add_into`` and the slot movers, or None where
    it cannot be built (not CPython, a build without the interpreter lock, no headers, no
    compiler); built or loaded once per process."""
    include = sysconfig.get_paths().get("include")
    if (sys.implementation.name != "cpython" or sysconfig.get_config_var("Py_GIL_DISABLED")
            or not include or type(Value.__dict__.get("grad")).__name__ != "member_descriptor"):
        return None
    try:
        # The key of the cached library holds the interpreter's version through the headers'
        # path and this flag, so that another Python builds its own; kept apart from the
        # graphs' libraries, one per interpreter rather than one per set of ops.
        lib = load(_CODE, [f"-I{include}", f"-DAG_PY={sys.hexversion}"], ctypes.PyDLL,
                   "python")
        pack, add_into = function(lib, "ag_pack_rows"), function(lib, "ag_add_into")
        read, write = function(lib, "ag_read_slot"), function(lib, "ag_write_slot")
    except NativeUnavailable:
        return None
    size, p, obj = ctypes.c_ssize_t, ctypes.c_void_p, ctypes.py_object
    pack.argtypes, pack.restype = [obj, size, p], size
    add_into.argtypes, add_into.restype = [obj, obj, p], size
    read.argtypes, read.restype = [obj, obj, p], size
    write.argtypes, write.restype = [obj, obj, p, ctypes.c_double], size
    return lib


def slot_mover(nodes: list[Value]):
    """Whether the helpers may move ``nodes``' data and grad through their slots: every node
    reads both through Value's own descriptors (a subclass with a property of its own goes
    through Python)."""
    return all(
        type(n).data is Value.data and type(n).grad is Value.grad for n in nodes)
