"""csource: the traced templates as C, compiled once with the system C compiler and cached.

The C code holds one function per template (an op's forward or partials for a number of
inputs), translated from the same traced steps as the Python replay; math functions map to libm.
The graph itself is data: arrays of node kinds and input slots walked by a small loop, so the
library depends only on which templates a graph uses, is compiled once per set and cached on
disk, keyed by a hash of the code and the compiler command. An op that cannot be traced (a user
primitive, whose functions may read state) is called back in Python at its place in the walk.

Where Python would raise (a domain check in an op, ``math.exp`` overflowing, division by zero),
the C code raises a flag instead and the step is redone by the Python tape, which raises the
op's own error, or computes what eager computes.

ctypes rather than cffi: it is in the standard library, and each replay is one call into C with
a few pointers to buffers allocated once, so the per-call cost of ctypes does not matter.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import math
import os
import platform
import shlex
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from ..ops import OPS, Op
from .text import TemplateText
from .trace import MATH_FUNCTIONS, MATH_PREDICATES, LoopForm, Template, loop_form, template

UNROLLED = 16  # sum and dot over up to this many terms also get a straight-line function
CFLAGS = ["-O2", "-fno-fast-math", "-ffp-contract=off", "-fPIC", "-shared"]
# The rows library's lane loops run faster built for the wider vectors of AVX2 or AVX-512, as
# -march=native would. Not -march=native itself: a cache may be shared between machines, and
# the flags are part of a library's key, so the flags must name what the library needs. The
# widest set this processor has (as Linux reports it on x86-64), else none. Results stay bit
# for bit the same: wider registers add and multiply the same numbers, and -ffp-contract=off
# keeps the fused multiply-adds of these sets out. (Not one library with a version of each
# function per set, chosen at run time by target_clones: GCC cannot copy the walks, whose
# tables of label addresses are static, and ag_rows cloned alone, its walks left in SSE2, ran
# slower than before.) AVX-512 is the five sets of x86-64-v4, named one by one: compilers before
# GCC 11 and Clang 12 do not know the name.
_ISA_FLAGS = [({"avx512f", "avx512vl", "avx512dq", "avx512bw", "avx512cd"},
               ("-mavx512f", "-mavx512vl", "-mavx512dq", "-mavx512bw", "-mavx512cd")),
              ({"avx2"}, ("-mavx2",))]
CACHE_ENV = "AUTOGRAD_SCALAR_CACHE"


class NativeUnavailable(RuntimeError):
    """No working C compiler, a failed build, or no private directory to cache the library in:
    the native replay cannot be used."""


# ------------------------------------------------------------------------------ C expressions

_C_BIN = {"+": "+", "-": "-", "*": "*"}


class _CText(TemplateText):
    """Template expressions as C."""

    def number(self, x) -> str:
        return _c_number(x)

    def operator(self, e: tuple) -> str:
        kind = e[0]
        if kind in ("bin", "cmp"):
            a, b = self.expr(e[2]), self.expr(e[3])
            if kind == "cmp" or e[1] in _C_BIN:
                return f"({a} {e[1]} {b})"
            return f"ag_{'div' if e[1] == '/' else 'pow'}({a}, {b})"
        if kind == "truth":
            return f"({self.expr(e[1])} != 0.0)"
        raise ValueError(f"native: unknown expression {e!r}")

    def call(self, name: str, args: list[str]) -> str:
        if name == "abs":
            return f"fabs({args[0]})"
        if name.startswith("m_"):
            f = name[2:]
            return f"{f}({args[0]})" if f in MATH_PREDICATES else f"m_{f}({args[0]})"
        key = (name[2:], len(args))  # F_<op>: that op's forward, itself translated
        if key not in self.fcalls:
            raise _NoC(f"F_{key[0]}")
        return f"{self.fcalls[key]}({', '.join(args)})"


def _lane_input(groups: int) -> Callable[[tuple], str]:
    """A loop form's input (("grp", g): input j of group g; ("tail", t)) in lane r of V."""
    def inp(what: tuple) -> str:
        at = f"{what[1]} * m + j" if what[0] == "grp" else f"{groups} * m + {what[1]}"
        return f"V[a[{at}] * AG_R + r]"
    return inp


def _lanes_backward_head(head: str, form: LoopForm) -> list[str]:
    """The start of a looped op's backward over AG_R lanes: each lane's upstream gradient
    taken into gs (and its slot cleared), the return where it may be skipped, m."""
    fn = [head, "    double gs[AG_R];",
          "    for (int r = 0; r < AG_R; r++) { gs[r] = G[o * AG_R + r]; G[o * AG_R + r] = 0.0; }"]
    if form.selects is not None:
        fn.append("    if (ag_zero_lanes(gs) && ag_fin_lanes(fin)) return;")
    return fn + [f"    const int m = (n - {form.tails}) / {form.groups};"]


class _NoC(Exception):
    """A template refers to something that has no C translation (an untraceable op)."""


def _c_number(x) -> str:
    x = float(x)
    if math.isnan(x):
        return "NAN"
    if math.isinf(x):
        return "INFINITY" if x > 0 else "(-INFINITY)"
    return f"({x!r})" if math.copysign(1.0, x) < 0 else repr(x)


class _Exprs:
    """Expressions in the shape ``Source._needs`` reads (a template's outputs)."""

    def __init__(self, outs: list) -> None:
        self.outs, self.stmts = outs, []


def _uses_results(t: Template) -> int:
    return len(t.outs) if any(s[0] == "if" for s in t.stmts) else 0


def _function(head: str, t: Template, text: _CText, finish, start=()) -> list[str]:
    """A C function: ``start``, the template's statements, then ``finish(outputs)``."""
    lines = [head + " {", *start]
    n_res = _uses_results(t)
    if n_res:
        lines.append(f"    double {', '.join(f'r{k} = NAN' for k in range(n_res))};")
    lines += text.block(t.stmts, "    ")
    return lines + finish([text.expr(o) for o in t.outs]) + ["}"]


def _returns(outs: list[str]) -> list[str]:
    return [f"    return {outs[0]};"]


def _accumulates(outs: list[str]) -> list[str]:
    # Eager adds each product g·∂, as the op forms it, into each input in input order; so does
    # this, with no fused multiply-add.
    return [f"    G[a[{i}]] += {d};" for i, d in enumerate(outs)]


def _skip(t: Template, text: _CText, k: int) -> tuple[list[str], list[str]]:
    """The start of a partials function: its upstream gradient, and a return when it is 0 and
    the inputs that the template's products need finite are finite (every product is then ±0:
    see ``trace._zero_when_g_is``); and the function that checks those inputs, if any.

    A gradient accumulator starts at +0.0 and so never holds -0.0: adding ±0 changes nothing,
    which makes the skip exact.
    """
    lines = ["    const double g = G[o];"]
    if t.selects is None:
        return lines, []
    picked = list(dict.fromkeys(text.expr(e) for per_input in t.selects for e in per_input))
    if not picked:
        return lines + ["    if (g == 0.0) return;"], []
    # ``fin``: every value of this replay is finite (checked once per backward), which spares
    # the wide nodes (dot) their own check. The check is a function of its own, kept out of
    # line: inlined, the compiler shares its loads with the products' and spills registers.
    check = [f"static AG_COLD int z{k}(const double *restrict V, const int *restrict a, int o) {{",
             f"    return 0.0 * {_tree_sum(picked)} == 0.0;", "}"]
    return lines + [f"    if (g == 0.0 && (fin || z{k}(V, a, o))) return;"], check


def _tree_sum(terms: list[str]) -> str:
    """A sum as a balanced tree: only its finiteness matters, so the order is free, and a
    balanced tree is short to wait for where a chain of additions is not."""
    while len(terms) > 1:
        pairs = [f"({a} + {b})" for a, b in zip(terms[::2], terms[1::2])]
        terms = pairs + (terms[-1:] if len(terms) % 2 else [])
    return terms[0] if terms[0].startswith("(") else f"({terms[0]})"


# ------------------------------------------------------------------------------ the library

_PRELUDE = r"""
#include <math.h>
#include <string.h>

static _Thread_local int ag_err;  /* set where Python would raise; the step is redone there */
typedef double (*ag_fcb)(int);
typedef int (*ag_bcb)(int);

/* The backward walk inlines every op's partials into its switch (compilers stop short of it
   on their own for the wide ones); the finiteness checks stay out of line. */
#if defined(__GNUC__)
#define AG_COLD __attribute__((noinline, cold))
#define AG_APART __attribute__((noinline))
#define AG_OP static inline __attribute__((always_inline))
#else
#define AG_COLD
#define AG_APART
#define AG_OP static inline
#endif
/* The loops of sum and dot, unrolled by four: each step stays in its order, the loads of the
   next steps can start early (what the one function per size got from being straight-line). */
#if defined(__clang__)
#define AG_UNROLL _Pragma("unroll 4")
#elif defined(__GNUC__)
#define AG_UNROLL _Pragma("GCC unroll 4")
#else
#define AG_UNROLL
#endif

static double ag_div(double a, double b) { if (b == 0.0) ag_err = 1; return a / b; }
/* A template's power is IEEE's (the table's partials use pow's own IEEE form, and so does the
   Python replay), which is libm's pow: ±inf on overflow, no flag. */
#define ag_pow pow
/* Whether an n-ary node's inputs and output are all finite (0·v is NaN otherwise). */
static AG_COLD int ag_finite_at(const double *V, const int *a, int n, int o) {
    double s = 0.0 * V[o];
    for (int i = 0; i < n; i++) s += 0.0 * V[a[i]];
    return s == 0.0;
}
/* Rows side by side: AG_R rows at once, lane r of slot s at s * AG_R + r. The compiler
   vectorises the loops over the lanes: four doubles are two SSE2 registers. Where the library
   is built for AVX2 or AVX-512 (isa_flags() in csource.py), eight are two 256-bit registers or
   one 512-bit one, and run faster; eight with SSE2 alone run slower (too few registers). */
#if defined(__AVX2__)
#define AG_R 8
#else
#define AG_R 4
#endif
/* Whether every value of every lane is finite, found at the first node that asks: *fin is
   -1 until then. The leaves other than the inputs hold the same numbers in every row: they are
   checked once per call (ag_fin_leaves), and per AG_R rows only the lanes of the ag_fin_ns
   slots that change from row to row (the inputs and the op nodes, g->rslot). Asked once per
   AG_R rows in a network of relus, so not cold (built for size, it would not be vectorised):
   two slots per step, in two sums, so that the additions need not wait for each other. */
static _Thread_local const double *ag_fin_V;
static _Thread_local const int *ag_fin_slots;
static _Thread_local int ag_fin_ns, ag_fin_leaves;
static AG_APART int ag_fin_lanes(int *fin) {
    if (*fin < 0) {
        double s[AG_R] = {0.0}, t[AG_R] = {0.0};
        int i = 0;
        for (; i + 2 <= ag_fin_ns; i += 2) {
            const double *v = ag_fin_V + (size_t)ag_fin_slots[i] * AG_R;
            const double *w = ag_fin_V + (size_t)ag_fin_slots[i + 1] * AG_R;
            for (int r = 0; r < AG_R; r++) { s[r] += 0.0 * v[r]; t[r] += 0.0 * w[r]; }
        }
        for (; i < ag_fin_ns; i++) {
            const double *v = ag_fin_V + (size_t)ag_fin_slots[i] * AG_R;
            for (int r = 0; r < AG_R; r++) s[r] += 0.0 * v[r];
        }
        int zero = 1;
        for (int r = 0; r < AG_R; r++) zero &= s[r] + t[r] == 0.0;
        *fin = ag_fin_leaves && zero;
    }
    return *fin;
}
/* What a wide backward (a dot whose weights are summed over the rows straight away) needs:
   the sums, the rows' inputs laid out row by row (and which group they are), the rows. */
typedef struct { double *S, *XT; int live, xid; } ag_ctx;
/* Whether a node's upstream gradient is 0 in every lane. */
static inline int ag_zero_lanes(const double *g) {
    int z = 1;
    for (int r = 0; r < AG_R; r++) z &= g[r] == 0.0;
    return z;
}
/* Python's math functions raise where libm returns NaN from a number, or infinity from a
   finite one: flag the same cases. */
#define AG_MATH(f) static double m_##f(double x) { double r = f(x); \
    if ((isnan(r) && !isnan(x)) || (isinf(r) && isfinite(x))) ag_err = 1; return r; }
"""

# What both libraries (one row at a time, and rows side by side) share.
_GRAPH = r"""
/* The graph as two programs of records [kind, out, a_0 .. a_{n-1}], n fixed by the kind, or
   [kind, out, n, a_0 .. a_{n-1}] for a loop (sum, dot), or
   [-1, out, n, k, a_0 .. a_{n-1}] for a node called back in Python (k numbers the op node):
   the op nodes in order for forward, those that need a gradient in reverse order for
   backward. One walk reads its records front to back, nothing else. */
typedef struct {
    int nl, root, n, nf, nb;
    const int *fprog, *bprog, *lslot;
    double *V, *G;
    ag_fcb fcb;
    ag_bcb bcb;
    int nr, nrb;
    const int *rslot;   /* the slots that change from row to row in ag_rows: inputs, op nodes */
    const int *rbprog;  /* ag_rows's backward program: bprog with its wide records */
    double *S, *XT;     /* the wide records' sums over the rows, and their inputs row by row */
    int nrf;
    const int *rfprog;  /* ag_rows's forward program: fprog with its group records */
} ag_graph;

/* Whether every value is finite: 0·v is ±0 for a finite v and NaN otherwise (eight sums in
   eight variables, so that the additions need not wait for each other). */
static int ag_finite(const double *V, int n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 += 0.0 * V[i];     s1 += 0.0 * V[i + 1]; s2 += 0.0 * V[i + 2]; s3 += 0.0 * V[i + 3];
        s4 += 0.0 * V[i + 4]; s5 += 0.0 * V[i + 5]; s6 += 0.0 * V[i + 6]; s7 += 0.0 * V[i + 7];
    }
    for (; i < n; i++) s0 += 0.0 * V[i];
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) == 0.0;
}

/* The values of the nk kslot nodes into K (nodes a caller keeps from each row). */
static void ag_keep(const double *V, int stride, int nk, const int *kslot, double *K) {
    for (int i = 0; i < nk; i++) K[i] = V[(size_t)kslot[i] * stride];
}
"""

_RUNTIME = r"""

static void ag_run_forward(const ag_graph *g) {
    ag_walk_forward(g->fprog, g->fprog + g->nf, g->V, g->fcb);
}


static void ag_run_backward(const ag_graph *g, double seed) {
    memset(g->G, 0, sizeof(double) * (size_t)g->n);
    g->G[g->root] = seed;
    ag_walk_backward(g->bprog, g->bprog + g->nb, g->V, g->G, ag_finite(g->V, g->n), g->bcb);
}

int ag_forward(const ag_graph *g, const double *L) {
    ag_err = 0;
    for (int k = 0; k < g->nl; k++) g->V[g->lslot[k]] = L[k];
    ag_run_forward(g);
    return ag_err;
}

int ag_backward(const ag_graph *g, double seed, int nw, const int *wslot, double *GW) {
    ag_err = 0;
    ag_run_backward(g, seed);
    for (int j = 0; j < nw; j++) GW[j] = g->G[wslot[j]];
    return ag_err;
}

/* Many input rows: the inputs' slots are overwritten per row, every other leaf read from L. */
int ag_map(const ag_graph *g, const double *L, int rows, int ni, const int *islot,
           const double *X, double *Y, int nk, const int *kslot, double *K) {
    ag_err = 0;
    for (int k = 0; k < g->nl; k++) g->V[g->lslot[k]] = L[k];
    for (int r = 0; r < rows && !ag_err; r++) {
        for (int j = 0; j < ni; j++) g->V[islot[j]] = X[(size_t)r * ni + j];
        ag_run_forward(g);
        Y[r] = g->V[g->root];
        ag_keep(g->V, 1, nk, kslot, K + (size_t)r * nk);
    }
    return ag_err;
}

/* Forward and backward per row; the gradients of the wslot leaves are added into GW row by
   row, in the order that calling backward once per row would add them into .grad. */
int ag_batch(const ag_graph *g, const double *L, int rows, int ni, const int *islot,
             const double *X, double *Y, double seed, int nw, const int *wslot, double *GW,
             int nk, const int *kslot, double *K) {
    ag_err = 0;
    for (int k = 0; k < g->nl; k++) g->V[g->lslot[k]] = L[k];
    for (int r = 0; r < rows && !ag_err; r++) {
        for (int j = 0; j < ni; j++) g->V[islot[j]] = X[(size_t)r * ni + j];
        ag_run_forward(g);
        Y[r] = g->V[g->root];
        ag_keep(g->V, 1, nk, kslot, K + (size_t)r * nk);
        ag_run_backward(g, seed);
        for (int j = 0; j < nw; j++) GW[j] += g->G[wslot[j]];
    }
    return ag_err;
}
"""


_ROWS = r"""
/* Many rows, AG_R at a time side by side (VR and GR hold n * AG_R numbers): every other leaf
   in every lane, the rows' inputs one row per lane (the last rows, if fewer than AG_R, copied
   into the spare lanes, which are then ignored). With GW, backward too, and each row's
   gradients of the wslot leaves added into GW row after row, in the order ag_batch adds
   them. V gets the last row's values; K each row's values of the kslot nodes. */
int ag_rows(const ag_graph *g, const double *L, int rows, int ni, const int *islot,
            const double *X, double *Y, double seed, int nw, const int *wslot, double *GW,
            int nk, const int *kslot, double *K, double *VR, double *GR) {
    const int n = g->n;
    ag_err = 0;
    /* Each node's lanes of GR go back to 0 once its partials are added (and the leaves' once
       added into GW), so GR is cleared once per call, not once per AG_R rows. */
    if (GW != NULL) memset(GR, 0, sizeof(double) * (size_t)n * AG_R);
    /* A leaf summed by a wide record (its wslot entry is -1 - its index in S) starts from GW's
       number. + 0.0 makes a -0.0 the +0.0 that adding lanes would make of it; after that the
       sum is never -0.0, so adding a -0.0 where the lanes would add +0.0, or nothing where a
       node is skipped, leaves it as the lanes do. */
    for (int j = 0; j < nw; j++)
        if (wslot[j] < 0) g->S[-1 - wslot[j]] = GW[j] + 0.0;
    ag_fin_V = VR;
    ag_fin_slots = g->rslot;
    ag_fin_ns = g->nr;
    ag_fin_leaves = ag_finite(L, g->nl);
    for (int k = 0; k < g->nl; k++) {  /* V: each leaf's one number, for group records */
        g->V[g->lslot[k]] = L[k];
        for (int r = 0; r < AG_R; r++) VR[(size_t)g->lslot[k] * AG_R + r] = L[k];
    }
    int live = 0;
    for (int r0 = 0; r0 < rows && !ag_err; r0 += AG_R) {
        live = rows - r0 < AG_R ? rows - r0 : AG_R;
        for (int r = 0; r < AG_R; r++) {
            const double *x = X + (size_t)(r0 + (r < live ? r : live - 1)) * ni;
            for (int j = 0; j < ni; j++) VR[(size_t)islot[j] * AG_R + r] = x[j];
        }
        ag_walk_forward_rows(g->rfprog, g->rfprog + g->nrf, VR, g->V);
        for (int r = 0; r < live; r++) {
            Y[r0 + r] = VR[(size_t)g->root * AG_R + r];
            ag_keep(VR + r, AG_R, nk, kslot, K + (size_t)(r0 + r) * nk);
        }
        if (GW == NULL) continue;
        for (int r = 0; r < AG_R; r++) GR[(size_t)g->root * AG_R + r] = seed;
        int fin = -1;
        ag_ctx c = {g->S, g->XT, live, -1};
        ag_walk_backward_rows(g->rbprog, g->rbprog + g->nrb, VR, GR, &fin, &c);
        /* Rows in order for each other leaf (the ones summed by wide records come last). */
        for (int j = 0; j < nw && wslot[j] >= 0; j++) {
            double *lanes = GR + (size_t)wslot[j] * AG_R;
            double sum = GW[j];
            if (live == AG_R) {  /* a fixed count: the additions written out */
                for (int r = 0; r < AG_R; r++) sum += lanes[r];
            } else {
                for (int r = 0; r < live; r++) sum += lanes[r];
            }
            GW[j] = sum;
            for (int r = 0; r < AG_R; r++) lanes[r] = 0.0;
        }
    }
    for (int j = 0; j < nw && GW != NULL; j++)
        if (wslot[j] < 0) GW[j] = g->S[-1 - wslot[j]];
    if (live > 0)
        for (int s = 0; s < n; s++) g->V[s] = VR[(size_t)s * AG_R + live - 1];
    return ag_err;
}

int ag_lanes(void) { return AG_R; }
"""


class Source:
    """The C functions for a set of (op, number of inputs): every fixed-arity op of the table,
    one loop per n-ary op that has a loop form (sum, dot: any number of inputs), and one
    function per size of any other n-ary op a graph uses, in a fixed order, so that graphs
    made of the same ops share one library whatever their widths and batch sizes."""

    def __init__(self, nary: list[tuple[Op, int]]) -> None:
        self.fcalls: dict[tuple[str, int], str] = {}  # value-argument forwards for F_ calls
        self.parts: list[list[str]] = []
        self.value_parts: list[list[str]] = []  # those forwards alone
        self.math: set[str] = set()
        keys: list[tuple[Op, int | None]]
        keys = [(op, op.arity) for op in OPS.values() if op.arity is not None]
        loops = {id(op): op for op, _ in nary if loop_form(op) is not None}
        keys += sorted(((op, None) for op in loops.values()), key=lambda k: k[0].name)
        # The small sizes of a looped op straight-line as well, all of them whichever the graph
        # uses (so the library still depends on the ops alone): a short loop costs more than
        # its few steps written out.
        small = [(op, form.groups * m + form.tails) for op in loops.values()
                 for form in [loop_form(op)] for m in range(1, UNROLLED + 1)]
        keys += sorted(small + [(op, n) for op, n in nary if id(op) not in loops],
                       key=lambda k: (k[0].name, k[1]))
        sized = {(id(op), n) for op, n in keys}
        # Keyed by (id(op), n), a loop by (id(op), None): ops need not be hashable.
        self.fkinds = {(id(op), n): self._add(op, n, "forward", i)
                       for i, (op, n) in enumerate(keys)}
        self.bkinds = {(id(op), n): self._add(op, n, "partials", i)
                       for i, (op, n) in enumerate(keys)}
        for op, n in nary:
            if id(op) in loops and (id(op), n) not in sized:
                self.fkinds[(id(op), n)] = self.fkinds[(id(op), None)]
                self.bkinds[(id(op), n)] = self.bkinds[(id(op), None)]
        self.sizes = [n for _, n in keys]  # per kind, its number of inputs (None: a loop)
        self.loops = {k for k, (_, n) in enumerate(keys) if n is None}
        # The same functions for AG_R rows side by side (see _RUNTIME's ag_rows).
        # A looped op's small sizes run its loop there (each lane is a chain of its own, so
        # the loop costs little, and its straight-line copies would double the compile time).
        self.lanes: list[list[str]] = []
        self.lane_alias: dict[str, dict[int, tuple[int, int]]] = {"forward": {}, "partials": {}}
        for k, (op, n) in enumerate(keys):
            for kind, kinds in (("forward", self.fkinds), ("partials", self.bkinds)):
                if kinds[(id(op), n)] != k:
                    continue
                if n is not None and id(op) in loops and kinds[(id(op), None)] >= 0:
                    self.lane_alias[kind][k] = (kinds[(id(op), None)], n)
                else:
                    self._add_lanes(op, n, kind, k)
        # And for a looped op of two groups (dot: weights, inputs), a second backward for
        # ag_rows: "wide", for records whose first group and tails are parameters summed over
        # the rows straight away (see wide_kind and _wide_lanes).
        self.wide: dict[int, tuple[int, int]] = {}  # loop kind -> (wide kind, its tails)
        for op in loops.values():
            kl, form = self.bkinds[(id(op), None)], loop_form(op)
            code = self._wide_lanes(form, len(self.sizes) + len(self.wide)) if kl >= 0 else None
            if code is not None:
                self.wide[kl] = (len(self.sizes) + len(self.wide), form.tails)
                self.lanes.append(code)
        # And its forward over several records at once that share their second group (a
        # layer's dots read the same inputs), one row and rows side by side: see _group.
        self.groups: dict[int, tuple[int, int]] = {}  # loop kind -> (group kind, its tails)
        for op in loops.values():
            kl, form = self.fkinds[(id(op), None)], loop_form(op)
            if kl >= 0 and form.groups == 2:
                gk = len(self.sizes) + len(self.wide) + len(self.groups)
                self.groups[kl] = (gk, form.tails)
                self.parts.append(self._group(form, gk, lanes=False))
                self.lanes.append(self._group(form, gk, lanes=True))

    def wide_kind(self, kind: int) -> tuple[int, int] | None:
        """The wide backward kind for records of backward ``kind`` (a looped op or one of its
        sizes) and its number of tails, None if it has none."""
        return self.wide.get(self.lane_alias["partials"].get(kind, (kind,))[0])

    def group_kind(self, kind: int) -> tuple[int, int] | None:
        """The group forward kind for records of forward ``kind`` (a looped op of two groups,
        or one of its sizes) and its number of tails, None if it has none."""
        return self.groups.get(self.lane_alias["forward"].get(kind, (kind,))[0])

    def forward_kind(self, op: Op, n: int) -> int:
        """The C function number for ``op``'s forward with ``n`` inputs, -1 to call back."""
        return self.fkinds.get((id(op), n), -1)

    def backward_kind(self, op: Op, n: int) -> int:
        return self.bkinds.get((id(op), n), -1)

    def _add(self, op: Op, n: int | None, kind: str, k: int) -> int:
        """Write the C function for a template; -1 when the op is called back in Python."""
        if n is None:
            return self._add_loop(loop_form(op), kind, k)
        t = template(op, n, kind, "c")
        if t is None:
            return -1
        try:
            self._needs(t)
            if kind == "forward":
                text = _CText(lambda i: f"V[a[{i}]]", "NAN", self.fcalls)
                fn = _function(f"static double f{k}(const double *restrict V, "
                               f"const int *restrict a)", t, text,
                               _returns)
            else:
                text = _CText(lambda i: f"V[a[{i}]]", "V[o]", self.fcalls)
                start, check = _skip(t, text, k)
                fn = check + _function(f"AG_OP void b{k}(const double *restrict V, "
                                       f"double *restrict G, const int *restrict a, int o, "
                                       f"int fin)", t, text, _accumulates, start)
        except _NoC:
            return -1
        self.parts.append(fn)
        return k

    def _add_loop(self, form: LoopForm, kind: str, k: int) -> int:
        """The C loop of an n-ary op's loop form (see ``trace.LoopForm``): the number of
        inputs n comes with each record, m = (n - tails) / groups."""
        grp, tails = form.groups, form.tails

        def inp(what: tuple) -> str:
            at = f"{what[1]} * m + j" if what[0] == "grp" else f"{grp} * m + {what[1]}"
            return f"V[a[{at.replace('0 * m + ', '').replace('1 * m', 'm')}]]"
        try:
            if kind == "forward":
                text = _CText(inp, "NAN", self.fcalls)
                self._needs(_Exprs([form.init, *form.block]))
                body = [f"        const double t{s} = {text.expr(e)};"
                        for s, e in enumerate(form.block)]
                fn = [f"static double f{k}(const double *restrict V, const int *restrict a, "
                      f"int n) {{", f"    const int m = (n - {tails}) / {grp};",
                      f"    double tc = {text.expr(form.init)};",
                      "    AG_UNROLL", "    for (int j = 0; j < m; j++) {", *body,
                      f"        tc = t{len(form.block) - 1};", "    }", "    return tc;", "}"]
            else:
                text = _CText(inp, "V[o]", self.fcalls)
                self._needs(_Exprs([*form.per_group, *form.per_tail]))
                fn = [f"AG_OP void b{k}(const double *restrict V, double *restrict G, "
                      f"const int *restrict a, int o, int fin, int n) {{",
                      "    const double g = G[o];"]
                if form.selects is not None:
                    # Skipped at g = 0 where every value it reads is finite: then every
                    # product it adds is ±0 (see _skip).
                    fn.append("    if (g == 0.0 && (fin || ag_finite_at(V, a, n, o))) return;")
                fn.append(f"    const int m = (n - {tails}) / {grp};")
                for g, e in enumerate(form.per_group):
                    at = inp(("grp", g)).replace("V[", "G[", 1)
                    fn += ["    AG_UNROLL",
                           f"    for (int j = 0; j < m; j++) {at} += {text.expr(e)};"]
                for t, e in enumerate(form.per_tail):
                    fn.append(f"    {inp(('tail', t)).replace('V[', 'G[', 1)} += "
                              f"{text.expr(e)};")
                fn.append("}")
        except _NoC:
            return -1
        self.parts.append(fn)
        return k

    def _add_lanes(self, op: Op, n: int | None, kind: str, k: int) -> None:
        """Function k for AG_R rows side by side: lane r of slot s is V[s * AG_R + r]. Each
        lane does exactly the steps of the function for one row; lanes are independent, so the
        compiler may run them as one vector, and a chain of additions (a dot) in one lane
        does not wait for the same chain in another."""
        lane = "V[a[{}] * AG_R + r]"
        if n is None:
            self.lanes.append(self._loop_lanes(loop_form(op), kind, k))
            return
        t = template(op, n, kind, "c")
        n_res = _uses_results(t)
        res = [f"        double {', '.join(f'r{j} = NAN' for j in range(n_res))};"] if n_res else []
        if kind == "forward":
            text = _CText(lane.format, "NAN", self.fcalls)
            body = text.block(t.stmts, "        ")
            self.lanes.append([
                f"static void F{k}(double *restrict V, const int *restrict a, int o) {{",
                "    double y[AG_R];", "    for (int r = 0; r < AG_R; r++) {", *res, *body,
                f"        y[r] = {text.expr(t.outs[0])};", "    }",
                "    for (int r = 0; r < AG_R; r++) V[o * AG_R + r] = y[r];", "}"])
            return
        text = _CText(lane.format, "V[o * AG_R + r]", self.fcalls)
        body = text.block(t.stmts, "        ")
        outs = [f"        d[{i}][r] = {text.expr(e)};" for i, e in enumerate(t.outs)]
        adds = [f"    for (int r = 0; r < AG_R; r++) G[a[{i}] * AG_R + r] += d[{i}][r];"
                for i in range(len(t.outs))]
        self.lanes.append([
            f"AG_OP void B{k}(const double *restrict V, double *restrict G, "
            f"const int *restrict a, int o, int *fin) {{",
            *(["    if (ag_zero_lanes(G + o * AG_R) && ag_fin_lanes(fin)) return;"]
              if t.selects is not None else []),
            f"    double d[{len(t.outs)}][AG_R];", "    for (int r = 0; r < AG_R; r++) {",
            "        const double g = G[o * AG_R + r];", *res, *body, *outs, "    }",
            "    for (int r = 0; r < AG_R; r++) G[o * AG_R + r] = 0.0;", *adds, "}"])

    def _loop_lanes(self, form: LoopForm, kind: str, k: int) -> list[str]:
        grp, tails = form.groups, form.tails
        inp = _lane_input(grp)
        if kind == "forward":
            text = _CText(inp, "NAN", self.fcalls)
            body = [f"            const double t{s} = {text.expr(e)};"
                    for s, e in enumerate(form.block)]
            return [f"static void F{k}(double *restrict V, const int *restrict a, int o, "
                    f"int n) {{", f"    const int m = (n - {tails}) / {grp};",
                    "    double tcs[AG_R];",
                    f"    for (int r = 0; r < AG_R; r++) tcs[r] = {text.expr(form.init)};",
                    "    for (int j = 0; j < m; j++) {",
                    "        for (int r = 0; r < AG_R; r++) {",
                    "            const double tc = tcs[r];", *body,
                    f"            tcs[r] = t{len(form.block) - 1};", "        }", "    }",
                    "    for (int r = 0; r < AG_R; r++) V[o * AG_R + r] = tcs[r];", "}"]
        text = _CText(inp, "V[o * AG_R + r]", self.fcalls)
        fn = _lanes_backward_head(f"AG_OP void B{k}(const double *restrict V, double *restrict G, "
                                  f"const int *restrict a, int o, int *fin, int n) {{", form)
        for g, e in enumerate(form.per_group):
            at = inp(("grp", g)).replace("V[", "G[", 1)
            fn += ["    for (int j = 0; j < m; j++)",
                   f"        for (int r = 0; r < AG_R; r++) {{ const double g = gs[r]; "
                   f"{at} += {text.expr(e)}; }}"]
        for t, e in enumerate(form.per_tail):
            at = inp(("tail", t)).replace("V[", "G[", 1)
            fn.append(f"    for (int r = 0; r < AG_R; r++) {{ const double g = gs[r]; "
                      f"{at} += {text.expr(e)}; }}")
        return fn + ["}"]

    def _group(self, form: LoopForm, k: int, lanes: bool) -> list[str]:
        """The forward of K records of a two-group loop that read the same second group (the
        dots of a layer: one record [kind, K, n, out_0 .. out_{K-1}, then each record's n
        inputs]), several records at a time: each record's chain of additions is its own, in
        its own order (bit for bit what one record at a time computes), but the chains run side
        by side, so that an addition need not wait for the one before it, and the shared inputs
        are loaded once for them all. One row (H{k}: numbers in V, eight chains), or AG_R rows
        side by side (G{k}: lanes in V, four chains of AG_R lanes), where the first group and
        the tails are leaves with the same number in every row, read once for all lanes from
        VS (one number per slot)."""
        grp, tails, r = form.groups, form.tails, "[r]" if lanes else ""
        at_once = 4 if lanes else 8  # chains in registers: AG_R lanes each, or one number
        each = "for (int r = 0; r < AG_R; r++) " if lanes else ""

        def text(d: int) -> _CText:
            def inp(what: tuple) -> str:
                if what == ("grp", 1):
                    return "V[x[j] * AG_R + r]" if lanes else "V[x[j]]"
                at = f"{what[1]} * m + j" if what[0] == "grp" else f"{grp} * m + {what[1]}"
                return f"{'VS' if lanes else 'V'}[a{d}[{at.replace('0 * m + ', '')}]]"
            return _CText(inp, "NAN", self.fcalls)
        self._needs(_Exprs([form.init, *form.block]))

        def chains(count: int, ind: str) -> list[str]:
            """``count`` records from record d: their chains, then their outputs."""
            lines = [f"{ind}const int *restrict a{d} = a + (size_t)(d + {d}) * n;"
                     for d in range(count)]
            size = "[AG_R]" if lanes else ""
            lines.append(f"{ind}double {', '.join(f'c{d}{size}' for d in range(count))};")
            starts = " ".join(f"c{d}{r} = {text(d).expr(form.init)};" for d in range(count))
            lines.append(f"{ind}{each}{{ {starts} }}" if lanes else f"{ind}{starts}")
            lines.append(f"{ind}for (int j = 0; j < m; j++) {{")
            if lanes:
                lines.append(f"{ind}    {each}{{")
            inner = ind + ("        " if lanes else "    ")
            for d in range(count):
                steps = " ".join(f"const double t{i} = {text(d).expr(e)};"
                                 for i, e in enumerate(form.block))
                lines.append(f"{inner}{{ const double tc = c{d}{r}; {steps} "
                             f"c{d}{r} = t{len(form.block) - 1}; }}")
            lines += [f"{ind}    }}", f"{ind}}}"] if lanes else [f"{ind}}}"]
            at = " * AG_R + r" if lanes else ""
            lines += [f"{ind}{each}V[o[d + {d}]{at}] = c{d}{r};" for d in range(count)]
            return lines
        head = (f"static void G{k}(double *restrict V, const double *restrict VS, "
                f"const int *restrict p) {{" if lanes else
                f"static void H{k}(double *restrict V, const int *restrict p) {{")
        return [head, "    const int K = p[0], n = p[1];",
                f"    const int m = (n - {tails}) / {grp};",
                "    const int *restrict o = p + 2, *restrict a = p + 2 + K;",
                "    const int *restrict x = a + m;  /* the shared group: the first record's */",
                "    int d = 0;", f"    for (; d + {at_once} <= K; d += {at_once}) {{",
                *chains(at_once, "        "),
                "    }", "    for (; d < K; d++) {", *chains(1, "        "), "    }", "}"]

    def _wide_lanes(self, form: LoopForm, k: int) -> list[str] | None:
        """The wide backward of a two-group loop: the second group's gradients into its lanes
        as usual; the first group's and the tails' into their sums over the rows (``c->S``
        from ``base``), row after row, as adding the lanes after would, but for a run of
        parameters at once. The second group's numbers are first laid out row by row in
        ``c->XT`` (once for consecutive records that share them: ``xid`` names the group),
        so that each row's products for the whole first group are one vectorisable loop.
        None where the first group's or a tail's partial reads anything but g and the second
        group's input at the same position."""
        if form.groups != 2:
            return None

        def first(x: str) -> str:
            """The first group's partial, reading the second group's input as ``x``."""
            def only_x(what: tuple) -> str:
                if what != ("grp", 1):
                    raise _NoC("wide")
                return x
            return _CText(only_x, "AG_NONE", self.fcalls).expr(form.per_group[0])

        def nothing(what: tuple) -> str:
            raise _NoC("wide")
        try:
            w, w_tail = first("XT[r * m + j + i]"), first("XT[r * m + j]")
            ts = [_CText(nothing, "AG_NONE", self.fcalls).expr(e) for e in form.per_tail]
            xs = _CText(_lane_input(2), "V[o * AG_R + r]", self.fcalls).expr(form.per_group[1])
        except _NoC:
            return None
        if "AG_NONE" in w + "".join(ts):
            return None
        fn = _lanes_backward_head(
            f"AG_OP void B{k}(const double *restrict V, double *restrict G, const int *restrict "
            f"a, int o, int *fin, int n, int base, int xid, ag_ctx *c) {{", form)
        fn += ["    for (int j = 0; j < m; j++)",
               f"        for (int r = 0; r < AG_R; r++) {{ const double g = gs[r]; "
               f"G[a[m + j] * AG_R + r] += {xs}; }}",
               "    if (c->xid != xid) {  /* the second group's numbers, row by row */",
               "        for (int j = 0; j < m; j++)",
               "            for (int r = 0; r < AG_R; r++) c->XT[r * m + j] = "
               "V[a[m + j] * AG_R + r];",
               "        c->xid = xid;", "    }",
               "    double *restrict S = c->S + base;",
               f"    ag_wide{k}(S, c->XT, gs, c->live, m);",
               "    for (int r = 0; r < c->live; r++) {  /* rows in order */",
               "        const double g = gs[r];"]
        fn += [f"        S[m + {t}] += {e};" for t, e in enumerate(ts)]
        # The first group's sums, AG_R of them at a time held in registers while the rows'
        # terms are added in row order: its own function, so that the compiler knows S, XT
        # and gs apart (restrict), with fixed counts it vectorises.
        row = [f"static void ag_wide{k}(double *restrict S, const double *restrict XT, "
               f"const double *restrict gs, const int live, const int m) {{",
               "    int j = 0;", "    for (; j + AG_R <= m; j += AG_R) {",
               "        double acc[AG_R];",
               "        for (int i = 0; i < AG_R; i++) acc[i] = S[j + i];",
               "        for (int r = 0; r < live; r++) {", "            const double g = gs[r];",
               f"            for (int i = 0; i < AG_R; i++) acc[i] += {w};",
               "        }",
               "        for (int i = 0; i < AG_R; i++) S[j + i] = acc[i];", "    }",
               "    for (; j < m; j++)",
               "        for (int r = 0; r < live; r++) {",
               f"            const double g = gs[r]; S[j] += {w_tail};",
               "        }", "}"]
        return row + fn + ["    }", "}"]

    def _needs(self, t: Template) -> None:
        """Math wrappers and value-argument forwards that ``t`` calls, written first."""
        stack: list = [t.outs, t.stmts]
        while stack:
            e = stack.pop()
            if isinstance(e, list):
                stack += e
                continue
            if e and e[0] == "call":
                name = e[1]
                if name.startswith("m_") and name[2:] in MATH_FUNCTIONS:
                    self.math.add(name[2:])
                elif name.startswith("F_"):
                    self._value_forward(name[2:], len(e[2]))
            stack += [x for x in e if isinstance(x, (tuple, list))]

    def _value_forward(self, name: str, n: int) -> None:
        key = (name, n)
        if key in self.fcalls or name not in OPS:
            return
        t = template(OPS[name], n, "forward", "c")
        if t is None:
            raise _NoC(name)
        self._needs(t)
        fname = f"fv_{name}_{n}"
        text = _CText(lambda i: f"x{i}", "NAN", self.fcalls)
        params = ", ".join(f"double x{i}" for i in range(n))
        fn = _function(f"static double {fname}({params})", t, text, _returns)
        self.parts.append(fn)
        self.value_parts.append(fn)
        self.fcalls[key] = fname

    def code(self) -> str:
        """The whole C file (without its key function)."""
        lines = [_PRELUDE] + [f"AG_MATH({f})" for f in sorted(self.math)]
        for part in self.parts:
            lines += part
        groups = [k for k, _ in self.groups.values()]
        lines += _walk("static void ag_walk_forward(const int *pc, const int *end, double *V, "
                       "ag_fcb cb)", "V[pc[1]] = f{0}(V, pc + 2);", "V[pc[1]] = cb(pc[3]);",
                       [*self.fkinds.values(), *groups], self.sizes,
                       "V[pc[1]] = f{0}(V, pc + 3, pc[2]);", None,
                       {k: f"H{k}(V, pc + 1); pc += 3 + pc[1] + pc[1] * pc[2];"
                        for k in groups})
        lines += _walk("static void ag_walk_backward(const int *pc, const int *end, "
                       "const double *V, double *G, int fin, ag_bcb cb)",
                       "b{0}(V, G, pc + 2, pc[1], fin);",
                       "if (cb(pc[3])) ag_err = 1;", self.bkinds.values(), self.sizes,
                       "b{0}(V, G, pc + 3, pc[1], fin, pc[2]);")
        return "\n".join(lines) + _GRAPH + _RUNTIME

    def rows_code(self) -> str:
        """The C file for rows side by side (``ag_rows``): a library of its own, built the
        first time a graph's rows go through map() or batch(), so that a graph replayed only
        by forward() and backward() never waits for it."""
        lines = [_PRELUDE] + [f"AG_MATH({f})" for f in sorted(self.math)]
        for part in self.value_parts + self.lanes:
            lines += part
        lines += _walk("static void ag_walk_forward_rows(const int *pc, const int *end, "
                       "double *V, const double *VS)", "F{0}(V, pc + 2, pc[1]);", "ag_err = 1;",
                       [*self.fkinds.values(), *(k for k, _ in self.groups.values())],
                       self.sizes, "F{0}(V, pc + 3, pc[1], pc[2]);",
                       self.lane_alias["forward"],
                       {k: f"G{k}(V, VS, pc + 1); pc += 3 + pc[1] + pc[1] * pc[2];"
                        for k, _ in self.groups.values()})
        lines += _walk("static void ag_walk_backward_rows(const int *pc, const int *end, "
                       "const double *V, double *G, int *fin, ag_ctx *c)",
                       "B{0}(V, G, pc + 2, pc[1], fin);", "ag_err = 1;",
                       [*self.bkinds.values(), *(k for k, _ in self.wide.values())],
                       self.sizes,
                       "B{0}(V, G, pc + 3, pc[1], fin, pc[2]);", self.lane_alias["partials"],
                       {k: f"B{k}(V, G, pc + 5, pc[1], fin, pc[2], pc[3], pc[4], c); "
                           f"pc += 5 + pc[2];" for k, _ in self.wide.values()})
        return "\n".join(lines) + _GRAPH + _ROWS


def _walk(head: str, case: str, default: str, kinds, sizes: list, loop: str,
          alias: dict | None = None, own: dict | None = None) -> list[str]:
    """A walk over a program's records, one piece of code per kind.

    Each piece steps over its record by its kind's fixed size: read from the record instead,
    the next record's address would wait for a load every step, which is what bounds a walk
    over small nodes (a relu's record is five numbers). Where the compiler has computed goto
    (GCC, Clang), each piece jumps straight to the next record's piece: a jump per piece is
    predicted from that piece's history, where a switch's one shared jump mispredicts after
    every data-dependent branch (a skipped node, a relu's sign); elsewhere it is a switch.
    A loop kind (size None) reads its number of inputs from its record, ``loop`` its code;
    ``alias`` maps a kind to (a loop kind, its fixed size): its records run that loop; ``own``
    maps a kind to its own step, whatever ``sizes`` holds (the wide records: [kind, out, n,
    base, xid, a_0 ..]; the group records: [kind, K, n, out_0 .. out_{K-1}, then the inputs]).
    """
    alias, own = alias or {}, own or {}
    known = sorted(set(kinds) - {-1})
    table = ", ".join(["&&Lcb"] + [f"&&L{k}" if k in known else "&&Lcb"
                                   for k in range(max(known, default=-1) + 1)])
    lines = [head + " {", "#if defined(__GNUC__)",
             f"    static const void *const next[] = {{{table}}};",
             "#define AG_NEXT if (pc >= end) return; goto *next[pc[0] + 1]",
             "    AG_NEXT;"]
    step = {k: (f"{case.format(k)} pc += {2 + sizes[k]};" if sizes[k] is not None else
                f"{loop.format(k)} pc += 3 + pc[2];") for k in known if k not in own}
    for k, (kl, n) in alias.items():
        # The loop's code with its input count fixed, over a record of fixed size.
        step[k] = (f"{loop.format(kl).replace('pc + 3', 'pc + 2').replace('pc[2]', str(n))} "
                   f"pc += {2 + n};")
    step.update(own)
    lines += [f"L{k}: {step[k]} AG_NEXT;" for k in known]
    lines += [f"Lcb: {default} pc += 4 + pc[2]; AG_NEXT;", "#undef AG_NEXT", "#else",
              "    while (pc < end) {", "        switch (pc[0]) {"]
    lines += [f"        case {k}: {step[k]} break;" for k in known]
    lines += [f"        default: {default} pc += 4 + pc[2]; break;", "        }", "    }",
              "#endif", "}"]
    return lines


# ------------------------------------------------------------------------------ build and cache
#
# A library in the cache is code that runs in this process as it is loaded (a constructor needs
# no call), and its key and digest are no secret: anyone who can write where a library is looked
# for can make this process run their code. So, as ssh does with ~/.ssh, the cache is used only
# where no other user can write: the directory holding the libraries (and its sub-folder) must be
# a real directory owned by this user and writable by no one else, every directory above it owned
# by this user or root and, where others may write to it, sticky (as /tmp is: they can then
# neither rename nor remove what is ours in it); each file must be a regular file owned by this
# user, writable by no one else, and no bigger than a bound (never read whole: a symlink to
# /dev/zero, or a huge file, would fill the memory).
#
# Where $AUTOGRAD_SCALAR_CACHE is such a shared sticky directory, the libraries go into a
# sub-directory of it per user, ``user-<uid>``, made with mode 0o700 and checked like the rest.
# Anywhere else that is not private (another user's directory, or one others may write to
# without the sticky bit, where they could swap the sub-directory between the check and the
# load) the native replay is refused with NativeUnavailable, and backend="auto" replays in
# Python. Directories made here are 0o700, the libraries 0o700, their digests 0o600.

_SO_LIMIT = 64 << 20  # bytes read at most from a library (a graph's is well under a megabyte)
_DIGEST_LIMIT = 256  # and from a digest (64 hexadecimal digits)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def cache_dir() -> Path:
    """Where compiled libraries are kept: $AUTOGRAD_SCALAR_CACHE, else the user cache dir."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "autograd-scalar"


def compiler() -> list[str]:
    """The C compiler command ($CC, else ``cc``); raises NativeUnavailable if it is missing."""
    cmd = shlex.split(os.environ.get("CC") or "cc")
    if not cmd or shutil.which(cmd[0]) is None:
        raise NativeUnavailable(f"native: no C compiler ({(cmd or ['cc'])[0]!r} not found; "
                                f"set CC)")
    return cmd


@functools.cache
def isa_flags() -> tuple[str, ...]:
    """The compiler flags for this machine's widest vector instructions (see _ISA_FLAGS)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return ()
    try:
        with open("/proc/cpuinfo") as f:
            have = next((set(line.split(":", 1)[1].split()) for line in f
                         if line.startswith("flags")), set())
    except (OSError, IndexError):
        return ()
    return next((flags for needs, flags in _ISA_FLAGS if needs <= have), ())


def load(code: str, flags: Sequence[str] = (), kind=ctypes.CDLL,
         folder: str = "") -> ctypes.CDLL:
    """The shared library for ``code``, from the cache or built now (atomically); ``flags`` are
    added to the compiler's, ``kind`` loads it (``ctypes.PyDLL`` for code that calls Python),
    ``folder`` is a sub-folder of the cache to keep it in."""
    cc = [*compiler(), *flags]
    key = hashlib.sha256("\0".join([code, *cc, *CFLAGS]).encode()).hexdigest()[:32]
    code += f'\nconst char *ag_key(void) {{ return "{key}"; }}\n'
    where = _private_folder(folder)
    lib = _load_checked(where, key, kind)
    if lib is None:
        try:
            _build(where, key, code, cc)
        except OSError as e:  # a full disk, a cache made read-only
            raise NativeUnavailable(f"native: cannot build in {where}: {e}") from e
        lib = _load_checked(where, key, kind)
        if lib is None:
            raise NativeUnavailable(f"native: the library built in {where} does not load")
    return lib


def function(lib: ctypes.CDLL, name: str):
    """``lib``'s function ``name``; NativeUnavailable if the library has none (a library that
    is not the one its key names)."""
    try:
        return getattr(lib, name)
    except AttributeError as e:
        raise NativeUnavailable(f"native: the cached library has no function {name}") from e


def _private_folder(folder: str) -> Path:
    """The cache directory for ``folder``, made where missing; NativeUnavailable where it is not
    private (see the comment above)."""
    base = cache_dir()
    if not hasattr(os, "geteuid"):  # no POSIX owners to check: trust nothing
        raise NativeUnavailable(f"native: cannot check who may write to {base} on this system")
    uid = os.geteuid()
    # Absolute and free of symlinks, so that every directory the loader goes through is checked.
    path = Path(os.path.realpath(base))
    try:
        for above in reversed(path.parents):
            _checked_dir(above, uid, shared=True, base=base)
        if _dir_problem(_made_dir(path), uid, shared=False):
            _checked_dir(path, uid, shared=True, base=base)  # a sticky directory like /tmp
            path = path / f"user-{uid}"
            _checked_dir(path, uid, shared=False, base=base)
        for part in Path(folder).parts:
            path = path / part
            _checked_dir(path, uid, shared=False, base=base)
    except OSError as e:  # an unwritable cache directory
        raise NativeUnavailable(f"native: cannot build in {base}: {e}") from e
    return path


def _checked_dir(path: Path, uid: int, shared: bool, base: Path) -> None:
    """Make ``path`` (mode 0o700) if it is missing, and check it; ``shared``: see _dir_problem."""
    problem = _dir_problem(_made_dir(path), uid, shared)
    if problem:
        raise NativeUnavailable(f"native: cannot build in {base}: {path} is {problem}; whoever "
                                f"can write there could run code in this process (set "
                                f"{CACHE_ENV} to a directory of your own)")


def _made_dir(path: Path) -> os.stat_result:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:  # another process made it just now
            pass
        return os.lstat(path)


def _dir_problem(st: os.stat_result, uid: int, shared: bool) -> str | None:
    """What makes a directory untrustworthy, or None: it must be a directory (not a symlink)
    owned by this user and writable by no one else; ``shared`` (a directory above the cache)
    also allows root as its owner and others' writing where it is sticky."""
    if not stat.S_ISDIR(st.st_mode):
        return "not a directory"
    if st.st_uid != uid and not (shared and st.st_uid == 0):
        return f"owned by uid {st.st_uid}, not by this user (uid {uid})"
    if st.st_mode & 0o022 and not (shared and st.st_mode & stat.S_ISVTX):
        sticky = " without the sticky bit" if shared else ""
        return f"writable by group or others (mode {st.st_mode & 0o7777:o}){sticky}"
    return None


def _read_private(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, owned by this
    user and writable by no one else; else None. Never follows a symlink, never blocks on a
    FIFO, never reads more than ``limit + 1`` bytes."""
    try:
        before = os.lstat(path)
        if not stat.S_ISREG(before.st_mode):
            return None
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if ((st.st_dev, st.st_ino) != (before.st_dev, before.st_ino)
                or not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid()
                or st.st_mode & 0o022 or st.st_size > limit):
            return None
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 20))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        return None  # it grew past the bound while being read
    except OSError:
        return None
    finally:
        os.close(fd)


def _load_checked(folder: Path, key: str, kind=ctypes.CDLL) -> ctypes.CDLL | None:
    """Load ``key``'s library if its bytes match the digest written with it and both files are
    this user's alone (see _read_private); else None."""
    so = folder / f"{key}.so"
    digest = _read_private(folder / f"{key}.sha256", _DIGEST_LIMIT)
    data = _read_private(so, _SO_LIMIT) if digest is not None else None
    if data is None:
        return None
    if hashlib.sha256(data).hexdigest() != digest.decode("ascii", "replace").strip():
        return None
    try:
        lib = kind(str(so))
        lib.ag_key.restype = ctypes.c_char_p
        if lib.ag_key().decode() != key:
            return None
    except (OSError, AttributeError, UnicodeDecodeError):
        return None
    return lib


def _build(folder: Path, key: str, code: str, cc: list[str]) -> None:
    """Compile in a private temporary directory, then rename into place: another process
    compiling the same code at the same time sees either no file or a whole one."""
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".{key}-") as tmp:
        (Path(tmp) / "graph.c").write_text(code)
        cmd = [*cc, *CFLAGS, "-o", "graph.so", "graph.c", "-lm"]
        try:
            done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as e:
            raise NativeUnavailable(f"native: running {cc[0]!r} failed: {e}") from e
        if done.returncode != 0:
            raise NativeUnavailable(f"native: {cc[0]!r} failed:\n{done.stderr[-2000:]}")
        built = Path(tmp) / "graph.so"
        os.chmod(built, 0o700)
        data = _read_private(built, _SO_LIMIT)
        if data is None:
            raise NativeUnavailable(f"native: {cc[0]!r} wrote no library of at most "
                                    f"{_SO_LIMIT} bytes")
        fd = os.open(Path(tmp) / "digest", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(hashlib.sha256(data).hexdigest())
        os.replace(built, folder / f"{key}.so")
        os.replace(Path(tmp) / "digest", folder / f"{key}.sha256")


# ------------------------------------------------------------------------------ update rules

class RuleSource(Source):
    """The C for an optimizer's per-parameter rule (a traced function of ``n`` floats with
    ``outputs`` results): the rule for one parameter, and a loop over every parameter whose
    first ``arrays`` inputs are read from arrays, the others being the same for all."""

    def __init__(self, t: Template, n: int, outputs: int, arrays: int) -> None:
        self.fcalls, self.parts, self.math = {}, [], set()
        self.n, self.outputs, self.arrays = n, outputs, arrays
        self._needs(t)
        text = _CText(lambda i: f"x[{i}]", "NAN", self.fcalls)
        self.parts.append(_function(
            "static inline void ag_one(const double *restrict x, double *restrict y)", t, text,
            lambda outs: [f"    y[{j}] = {o};" for j, o in enumerate(outs)]))

    def code(self) -> str:
        lines = [_PRELUDE] + [f"AG_MATH({f})" for f in sorted(self.math)]
        for part in self.parts:
            lines += part
        return "\n".join(lines) + f"""
/* Every parameter i: inputs X[k][i] for the {self.arrays} arrays, then h (the settings);
   outputs into Y[j][i]. */
int ag_rule(int n, double *const *X, const double *h, double *const *Y) {{
    double x[{self.n}], y[{self.outputs}];
    ag_err = 0;
    for (int k = {self.arrays}; k < {self.n}; k++) x[k] = h[k - {self.arrays}];
    for (int i = 0; i < n; i++) {{
        for (int k = 0; k < {self.arrays}; k++) x[k] = X[k][i];
        ag_one(x, y);
        for (int j = 0; j < {self.outputs}; j++) Y[j][i] = y[j];
    }}
    return ag_err;
}}
"""
