"""explore: any graph as one self-contained page to zoom, pan, step through and click.

The key idea is one layout, many states. Graphviz places every box once (``plain`` output:
positions and edge splines); the page draws that layout as SVG and the forward and backward
passes travel as data (JSON) that the page applies step by step. So the page grows linearly with
the graph, and no state needs a layout of its own.

Everything shown comes from ``autograd.graph.graph_data`` (values, local partials, formulas, the
backward steps) and ``autograd.explain`` (the textbook derivation of each value).
"""
from __future__ import annotations

import html
import re
from importlib import resources
from pathlib import Path
from typing import Any

from ...engine import Value, backprop
from ...escape import html_text, shown
from ..explaining import explain
from ...graph import fmt, graph_data, to_json
from .layout import Layout, LayoutSource, box_size, lay_out, prepare

__all__ = ["explore", "explorer_data", "Explorer", "clusters", "LayoutSource"]

MAX_VALUES = 2000
"""Most values one page lays out and draws at once (a cluster view counts its boxes)."""
MAX_EXPLAINED = 200
"""Most values whose textbook derivation is precomputed into the page."""
EXPLAIN_WORK = 100_000
"""Each derivation walks the whole graph: by default a big graph carries fewer of them, so
that (explained values) × (graph size) stays under this."""
TEXT = 200
"""Longest expression or formula text carried into the page."""


class Explorer:
    """The page for one graph: shows inline in Jupyter, ``save(path)`` writes it."""

    def __init__(self, page: str, title: str) -> None:
        self.html = page
        self.title = title

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (one file: scripts, styles and data inline)."""
        path = Path(path)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        # An iframe keeps the page's script and styles apart from the notebook's own.
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="'
                f'{html_text(self.title)}" style="width:100%;height:640px;border:1px solid '
                f'#999" sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        return f"Explorer({self.title!r}, {len(self.html):,} characters)"


def explore(root: Value, path: str | Path | None = None, *, group: bool = False,
            depth: int | None = None, max_values: int = MAX_VALUES, precision: int = 4,
            explained: int | None = None, title: str | None = None,
            layout: LayoutSource | None = None) -> Explorer:
    """The graph behind ``root`` as an interactive page; written to ``path`` if given.

    ``group``: values labelled with dotted prefixes (``L1.N3.w2``) start collapsed into
    clusters (``L1`` holding ``L1.N3``) that open on click (see ``clusters``). ``depth``: only
    values at most that many ops from ``root``. ``max_values``: past this many boxes in one view
    the page shows the values nearest the root and says so. ``explained``: how many values
    (nearest the root first) carry their ``explain`` derivation; by default up to 200,
    fewer on big graphs (each one walks the whole graph). ``layout``: where the boxes' places
    come from (see ``explorer_data``).
    """
    payload = explorer_data(root, group=group, depth=depth, max_values=max_values,
                            precision=precision, explained=explained, layout=layout)
    title = title or f"Explore {shown(payload['nodes'][payload['root']]['n'], 40)}"
    result = Explorer(render_page(payload, title), title)
    if path is not None:
        result.save(path)
    return result


def explorer_data(root: Value, *, group: bool = False, depth: int | None = None,
                  max_values: int = MAX_VALUES, precision: int = 4, explained: int | None = None,
                  layout: LayoutSource | None = None) -> dict[str, Any]:
    """What the explorer page draws, as JSON-ready data (the arguments are ``explore``'s).

    ``layout`` lays out one view: a function from DOT source to graphviz's ``plain`` text. By
    default the ``dot`` program does it; a browser page passes Graphviz compiled to WebAssembly,
    so the same page script reads the same data from either source.
    """
    if not isinstance(root, Value):
        raise TypeError(f"explore: root must be a Value, got {type(root).__name__}")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        raise ValueError(f"explore: depth must be a non-negative int, got {depth!r}")
    if not isinstance(max_values, int) or max_values < 1:
        raise ValueError(f"explore: max_values must be a positive int, got {max_values!r}")
    if layout is not None and not callable(layout):
        raise TypeError(f"explore: layout must be a function from DOT to plain text, "
                        f"got {type(layout).__name__}")
    data = graph_data(root, precision=precision)
    return _payload(root, data, group, depth, max_values, explained, layout)


# ------------------------------------------------------------------------- what is drawn

def _distances(data: dict) -> dict[int, int]:
    # Fewest ops from the root, breadth-first over the data's parent lists.
    nodes, dist = data["nodes"], {data["root"]: 0}
    frontier = [data["root"]]
    while frontier:
        nxt = []
        for i in frontier:
            for p in nodes[i]["parents"]:
                if p not in dist:
                    dist[p] = dist[i] + 1
                    nxt.append(p)
        frontier = nxt
    return dist


def _prefix(label: str | None) -> str:
    # "L1.N3.w2" belongs to cluster "L1.N3"; a label without a dot (or with an empty part,
    # such as "a..b") to none.
    if not label or "." not in label:
        return ""
    key = label.rsplit(".", 1)[0]
    return "" if "" in key.split(".") else key


def _common(keys: list[str]) -> str:
    # The longest dotted prefix all keys share: L1.N3 and L1.N5 share L1.
    parts = [k.split(".") if k else [] for k in keys]
    out = []
    for column in zip(*parts):
        if len(set(column)) > 1:
            break
        out.append(column[0])
    return ".".join(out)


def clusters(data: dict) -> dict[int, str]:
    """Each value's cluster for ``group=True``: its label's dotted prefix (``L1.N3.w2`` is in
    ``L1.N3``); a label that several values share (``L1.N3.net`` once per example) is a cluster
    of its own inside that; an unlabelled value joins the cluster its inputs share."""
    nodes = data["nodes"]
    seen: dict[str, int] = {}
    for n in nodes:
        if n["label"] and n["kind"] != "constant":
            seen[n["label"]] = seen.get(n["label"], 0) + 1
    home: dict[int, str] = {}   # where a value's unlabelled users look for their cluster
    out: dict[int, str] = {}
    for n in nodes:  # parents first
        i, label = n["id"], n["label"]
        if n["kind"] == "constant":
            continue
        if label:
            home[i] = _prefix(label)
            shared = seen[label] > 1 and "" not in label.split(".")
            out[i] = label if shared else home[i]
        else:
            inputs = [home[p] for p in n["parents"] if p in home]
            home[i] = out[i] = _common(inputs) if inputs else ""
    return out


def _chosen(data: dict, group: bool, depth: int | None, max_values: int) -> tuple[list[int], str]:
    """The ids of the values drawn (constants never are: ops show them inline) and a note
    saying what was left out and how to see it."""
    dist = _distances(data)
    values = [n["id"] for n in data["nodes"] if n["kind"] != "constant"]
    if depth is not None:
        values = [i for i in values if dist[i] <= depth]
    if group:
        return values, ""  # each cluster view is capped on its own
    if len(values) <= max_values:
        return values, ""
    by_distance = sorted(values, key=lambda i: (dist[i], i))
    cut = dist[by_distance[max_values]]
    kept = [i for i in values if dist[i] < cut] or by_distance[:1]
    note = (f"This graph has {len(values):,} values, more than the {max_values:,} one page "
            f"lays out: shown are the {len(kept):,} within {max(cut - 1, 0)} ops of the root. "
            f"Use explore(root, depth=3) for the part near the root, explore(node) for another "
            f"part, or group=True to collapse labelled clusters (L1.N3.w2).")
    return kept, note


# ------------------------------------------------------------------------------ payload

def _payload(root: Value, data: dict, group: bool, depth: int | None, max_values: int,
             explained: int | None, layout: LayoutSource | None) -> dict[str, Any]:
    drawn, note = _chosen(data, group, depth, max_values)
    keep = set(drawn)
    nodes = data["nodes"]
    # Constants that feed a drawn value travel too: the details panel lists every input.
    edges = [e for e in data["edges"] if e["target"] in keep
             and (e["source"] in keep or nodes[e["source"]]["kind"] == "constant")]
    carried = sorted(keep | {e["source"] for e in edges})
    index = {i: k for k, i in enumerate(carried)}
    sofar = _running_sums(data, keep)
    key = clusters(data) if group else {}
    views, note2 = _views(data, drawn, edges, key, max_values, layout)
    return {
        "root": index[data["root"]],
        "nodes": [_node(nodes[i], key.get(i, "")) for i in carried],
        "edges": [[index[e["source"]], index[e["target"]], shown(e["formula"], TEXT),
                   e["local_text"], fmt(_float(e["flow"]), data["precision"]),
                   sofar.get(e["id"], "")] for e in edges],
        "forward": [index[i] for i in data["forward"] if i in keep],
        "backward": [[index[s["node"]], [index[c] for c in s["completes"] if c in keep]]
                     for s in data["backward"] if s["node"] in keep],
        "views": [_view_json(v, index) for v in views],
        "explained": _explanations(root, data, keep, explained, index),
        "note": " ".join(x for x in (note, note2) if x),
        "group": group,
    }


def _float(x: float | str) -> float:
    return float(x)  # "inf", "-inf" and "nan" travel as strings in graph_data


def _node(n: dict, cluster: str) -> dict[str, Any]:
    out = {"n": shown(n["name"]), "k": n["kind"], "d": fmt(_float(n["data"])),
           "g": fmt(_float(n["grad"])), "D": fmt(_float(n["data"]), 9),
           "G": fmt(_float(n["grad"]), 9), "c": cluster,
           "l": 1 if n["label"] else 0}
    if n["kind"] == "op":
        out.update(o=shown(n["op"]), s=shown(n["symbol"]), e=shown(n["expression"], TEXT),
                   v=shown(n["expression_values"], TEXT))
    return out


def _running_sums(data: dict, keep: set[int]) -> dict[int, str]:
    """For each edge, the gradient its receiver holds right after the edge's send, so the page
    shows the partial sums "so far" exactly as the backward pass adds them."""
    acc: dict[int, float] = {data["root"]: 1.0}
    out = {}
    for step in data["backward"]:
        for send in step["sends"]:
            to = send["to"]
            acc[to] = acc.get(to, 0.0) + _float(send["amount"])
            if to in keep:
                out[send["edge"]] = fmt(acc[to], data["precision"])
    return out


def _explanations(root: Value, data: dict, keep: set[int], cap: int | None,
                  index: dict[int, int]) -> dict[str, str]:
    # Values nearest the root first, labelled or not; ids are positions in the engine's own
    # order, the same walk graph_data numbered.
    order, _ = backprop(root, 1.0)
    dist = _distances(data)
    values = [n["id"] for n in data["nodes"] if n["kind"] != "constant" and n["id"] in keep]
    if cap is None:
        cap = max(10, min(MAX_EXPLAINED, EXPLAIN_WORK // len(data["nodes"])))
    chosen = sorted(values, key=lambda i: (dist[i], i))[:cap]
    return {str(index[i]): _lines(str(explain(root, order[i], max_paths=8))) for i in chosen}


def _lines(text: str) -> str:
    # Each line made printable on its own, so the line breaks survive.
    return "\n".join(shown(line, 2000) for line in text.splitlines()[:400])


# -------------------------------------------------------------------------------- views

def _views(data: dict, drawn: list[int], edges: list[dict], key: dict[int, str],
           max_values: int, layout: LayoutSource | None) -> tuple[list[Layout], str]:
    """One layout for the whole graph, or with ``group`` one per cluster level: the top level
    and each cluster's inside, other clusters shown as single boxes."""
    keep = set(drawn)
    links = [(e["source"], e["target"]) for e in edges if e["source"] in keep]
    nodes = data["nodes"]
    if not key:
        units = {i: ("n", i) for i in drawn}
        return lay_out([prepare("", units, links, _sizes(units, nodes))], layout), ""
    clusters = sorted({k for c in key.values() if c for k in _prefixes(c)}, key=_natural)
    by_pair = _links_by_clusters(links, key, keep)
    jobs, too_big = [], []
    for view in ["", *clusters]:
        units = {i: _unit(view, key[i]) or ("n", i) for i in drawn}
        boxes = len(set(units.values()))
        if boxes > max_values:
            too_big.append(view or "the top level")
            units = {i: u for i, u in units.items() if u[0] != "n"}
        jobs.append((view, units))
    views = lay_out([prepare(view, units, _links_in(view, by_pair), _sizes(units, nodes))
                     for view, units in jobs], layout)
    note = ""
    if too_big:
        note = (f"{', '.join(too_big[:3])} hold{'s' if len(too_big) == 1 else ''} more than "
                f"{max_values:,} values, too many to lay out here; their values are left out. "
                f"Use explore(node, depth=3) for the part near one node.")
    return views, note


def _links_by_clusters(links: list[tuple[int, int]], key: dict[int, str],
                       keep: set[int]) -> dict[tuple[str, str], list[tuple[int, int, int]]]:
    """The links (numbered in their order) grouped by the clusters of their two ends."""
    by_pair: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    for k, (s, t) in enumerate(links):
        if t in keep:
            by_pair.setdefault((key[s], key[t]), []).append((k, s, t))
    return by_pair


def _links_in(view: str, by_pair: dict) -> list[tuple[int, int]]:
    """The links that can draw an edge in ``view``: a value stands for itself only when its
    cluster is the view; otherwise it stands for its cluster's box, which its whole group of
    links shares, so one link per group draws that edge (a big graph has about a hundred
    views and tens of thousands of links)."""
    out: list[tuple[int, int, int]] = []
    for (ks, kt), group in by_pair.items():
        if ks == view or kt == view:
            out.extend(group)
        else:
            out.append(group[0])
    out.sort()  # in the links' own order, so the layout is the one all links would give
    return [(s, t) for _, s, t in out]


def _sizes(units: dict[int, tuple], nodes: list[dict]) -> dict[tuple, tuple[float, float]]:
    """Each box's size from the longest line the page will write in it."""
    counts: dict[tuple, int] = {}
    for u in units.values():
        counts[u] = counts.get(u, 0) + 1
    out = {}
    for u, count in counts.items():
        if u[0] == "n":
            n = nodes[u[1]]
            lines = [shown(n["name"]) + "  " + shown(n["symbol"] or ""),
                     "data " + fmt(_float(n["data"])), "grad " + fmt(_float(n["grad"])) + " ✓✓"]
        elif u[0] == "c":
            lines = [u[1], f"{count:,} values", "▸ open"]
        else:
            lines = ["outside: " + (u[1] or "unclustered"), f"{count:,} values"]
        out[u] = box_size(lines)
    return out


def _prefixes(cluster: str) -> list[str]:
    parts = cluster.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


def _natural(key: str) -> list:
    # L2 before L10, N2 before N10.
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def _unit(view: str, cluster: str) -> tuple[str, Any] | None:
    """What stands for a value of ``cluster`` in ``view``: None (the value itself), a child
    cluster's box ("c", key) or, for values outside the view, a box for their top-level
    cluster ("o", key; "" for values in no cluster)."""
    if view == "" or cluster == view or cluster.startswith(view + "."):
        if cluster == view:
            return None
        rest = cluster[len(view) + 1:] if view else cluster
        return ("c", (view + "." if view else "") + rest.split(".")[0])
    return ("o", cluster.split(".")[0] if cluster else "")


def _view_json(v: Layout, index: dict[int, int]) -> dict[str, Any]:
    boxes = []
    for kind, ref, x, y, w, h, count in v.boxes:
        boxes.append([kind, index[ref] if kind == "n" else ref, x, y, w, h, count])
    return {"key": v.key, "width": v.width, "height": v.height, "boxes": boxes,
            "edges": v.edges}


def render_page(payload: dict[str, Any], title: str) -> str:
    """The page: template, styles, script and data in one file."""
    files = resources.files(__package__)
    parts = {"TITLE": html_text(title), "CSS": (files / "explorer.css").read_text("utf-8"),
             "JS": (files / "explorer.js").read_text("utf-8"), "DATA": to_json(payload)}
    template = (files / "page.html").read_text("utf-8")
    # One pass, so nothing inserted is ever read as a placeholder again.
    return re.sub(r"\{\{(TITLE|CSS|JS|DATA)\}\}", lambda m: parts[m[1]], template)
