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
other ``grad`` (an int, a Fraction) stops the C loop, and Python adds the rest.
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

/* For each object of the list, its float slot (the member ``slot`` describes) += add[i].
   Returns the number done: it stops at a slot that holds no float, for Python to go on. */
Py_ssize_t ag_add_into(PyObject *list, PyObject *slot, const double *add) {
    if (!PyList_Check(list)) return 0;
    Py_ssize_t off = ((PyMemberDescrObject *)slot)->d_member->offset;
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject **p = (PyObject **)((char *)PyList_GET_ITEM(list, i) + off);
        PyObject *old = *p;
        if (old == NULL || !PyFloat_CheckExact(old)) return i;
        PyObject *sum = PyFloat_FromDouble(PyFloat_AS_DOUBLE(old) + add[i]);
        if (sum == NULL) return -1;
        *p = sum;
        Py_DECREF(old);
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

/* Each object's slot set to a new float: in[i], or where in is NULL one float x shared by
   all (as ``obj.slot = 0.0`` in a loop shares the constant). Returns the number written, -1
   without memory. */
Py_ssize_t ag_write_slot(PyObject *list, PyObject *slot, const double *in, double x) {
    if (!PyList_Check(list)) return 0;
    Py_ssize_t off = ((PyMemberDescrObject *)slot)->d_member->offset;
    Py_ssize_t n = PyList_GET_SIZE(list);
    PyObject *same = in ? NULL : PyFloat_FromDouble(x);
    if (in == NULL && same == NULL) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject **p = (PyObject **)((char *)PyList_GET_ITEM(list, i) + off);
        PyObject *old = *p;
        PyObject *v = same;
        if (in) {
            v = PyFloat_FromDouble(in[i]);
            if (v == NULL) return -1;
        } else {
            Py_INCREF(v);
        }
        *p = v;
        Py_XDECREF(old);
    }
    Py_XDECREF(same);
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
