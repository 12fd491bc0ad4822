"""One training run of the playground: data, network, optimizer, steps, and what the page shows.

Everything here is plain Python with no I/O: the server feeds it commands (JSON-ready dicts) and
sends out what ``state()`` and ``frame()`` return. Training runs on this engine: a compiled batch
graph replays forward and backward, and ``nn.optim`` updates the weights.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import autograd
from autograd import Value
from autograd.views.explorer import LayoutSource, explorer_data
from nn import MLP, optim

from .data import EXTENT, Point, generate
from .graphs import Batches, Loader, example_loss
from .grid import encode, grid, neuron_outputs, surface
from .settings import MAX_LAYERS, MAX_NEURONS, CommandError, Settings, real, shown, updated

HISTORY = 400  # curve points kept; older ones are thinned to every other one
MAX_ADDED = 2_000  # points added by clicks that the plane holds at once
_DATA_KEYS = {"dataset", "points", "noise", "test_fraction", "data_seed"}
_NET_KEYS = {"dataset", "hidden", "activation", "seed"}


@dataclass
class Reply:
    """What a command changed, for the server to tell the tabs.

    ``broadcast``: "state" or "frame" (send that to every tab now); a message of its own (a
    small change such as a point added, sent as is; the numbers it makes stale come with the
    next frame); or None. ``private``: a reply for the sender only.
    """

    broadcast: str | dict | None = None
    private: dict | None = None


def finite(x: float) -> float | str:
    """``x`` for JSON: non-finite numbers become the strings "nan", "inf", "-inf"."""
    return x if math.isfinite(x) else str(x)


class Session:
    """A training run driven by commands: play, pause, step, reset, set, add, remove, explain."""

    def __init__(self, settings: Settings | None = None, grid_size: int = 40,
                 layout: LayoutSource | None = None, javascript: Loader | None = None) -> None:
        self.settings = settings or Settings()
        self.layout = layout  # lays out an example's graph (DOT to plain); None: the dot program
        # Compiles the JavaScript replay (in the site's worker; graphs.JavaScriptReplay); None:
        # the graph replays in C or Python only.
        self.javascript = javascript
        self.grid_size = grid_size
        self.grid = grid(grid_size, EXTENT)
        self.running = False
        self.message = ""
        self._new_data()
        self._new_network()

    # -- building ------------------------------------------------------------------------------

    def _new_data(self) -> None:
        s = self.settings
        self.points = generate(s.dataset, s.points, s.noise, s.test_fraction, s.data_seed)
        self._train = [p for p in self.points if not p.test]
        self._test = [p for p in self.points if p.test]
        self._next_id = self._first_added = len(self.points)
        self.added = 0  # points added by clicks still on the plane, at most MAX_ADDED
        self._order: list[Point] = []

    def _new_network(self) -> None:
        s = self.settings
        self.model = MLP(2, [*s.hidden, 1 if s.classes == 2 else s.classes], s.activation,
                         seed=s.seed)
        self.params = self.model.parameters()
        self.names = {name: p for name, p in self.model.named_parameters()}
        self.batches = Batches(self.model, s.loss, s.classes, self.javascript)
        self._make_optimizer()
        self._rng = random.Random(s.seed)
        self.steps = 0
        self.history: list[list] = []
        self._mark = (time.perf_counter(), 0)
        self.sps = 0.0
        self.metrics = self._evaluate()

    def _make_optimizer(self) -> None:
        s = self.settings
        self.optimizer = (optim.SGD(self.params, s.lr) if s.optimizer == "sgd"
                          else optim.Adam(self.params, s.lr))

    @property
    def train(self) -> list[Point]:
        """The training points, kept up to date as points come and go (do not modify)."""
        return self._train

    @property
    def test(self) -> list[Point]:
        """The test points (do not modify)."""
        return self._test

    # -- training ------------------------------------------------------------------------------

    def _batch(self) -> list[Point]:
        train = self.train
        if self.settings.batch >= len(train):
            return train
        if len(self._order) < self.settings.batch:
            # A new epoch: every training point once, in a fresh order.
            self._order = train[:]
            self._rng.shuffle(self._order)
        batch = self._order[:self.settings.batch]
        del self._order[:self.settings.batch]
        return batch

    def step(self) -> bool:
        """One forward, backward and update; False (and paused, with a message) if it diverged."""
        batch = self._batch()
        if not batch:
            self.running = False
            raise CommandError("there are no training points: add some or lower the test fraction")
        try:
            loss = self._gradients(batch)
        except (ArithmeticError, ValueError) as e:
            return self._diverged(f"an operation failed ({e})")
        if not math.isfinite(loss):
            return self._diverged(f"the loss became {loss}")
        self.optimizer.step()
        self.steps += 1
        if not all(math.isfinite(p.data) for p in self.params):
            return self._diverged("a weight became infinite")
        return True

    def _gradients(self, points: list[Point]) -> float:
        """Forward and backward on ``points``; leaves ∂(loss + L2)/∂p in every weight's grad."""
        for p in self.params:
            p.grad = 0.0
        loss, _ = self.batches.run(points, backward=True, count=False)
        l2 = self.settings.l2
        if l2:
            for p in self.params:
                p.grad += 2.0 * l2 * p.data
        return loss

    def halt(self, message: str) -> None:
        """Pause the run with ``message`` for the page, as if paused: no steps per second."""
        self.running = False
        self.message = message
        self.sps = 0.0

    def _diverged(self, why: str) -> bool:
        self.running = False
        self.message = (f"Training paused at step {self.steps}: {why}. Lower the learning rate "
                        f"and press reset.")
        return False

    def _evaluate(self) -> dict:
        """Loss (without the L2 term) and accuracy in % on the training and the test points."""
        out = {}
        for name, pts in (("train", self.train), ("test", self.test)):
            if not pts:
                out[f"{name}_loss"] = out[f"{name}_accuracy"] = None
                continue
            try:
                loss, hits = self.batches.run(pts)
            except (ArithmeticError, ValueError):
                loss, hits = math.nan, 0
            out[f"{name}_loss"] = finite(loss)
            out[f"{name}_accuracy"] = round(100.0 * hits / len(pts), 1)
        return out

    def _record(self) -> None:
        m = self.metrics
        self.history.append([self.steps, m["train_loss"], m["test_loss"]])
        if len(self.history) > HISTORY:
            self.history = self.history[::2]

    # -- what the page shows -------------------------------------------------------------------

    def refresh(self) -> None:
        """Recompute the read-outs and the loss curves' newest point, and the steps per second."""
        now = time.perf_counter()
        t0, s0 = self._mark
        if self.running and now > t0:
            self.sps = (self.steps - s0) / (now - t0)
        elif not self.running:
            self.sps = 0.0
        self._mark = (now, self.steps)
        self.metrics = self._evaluate()
        if not self.history or self.history[-1][0] != self.steps:
            self._record()

    def frame(self) -> dict:
        """Everything that changes while training: numbers, weights, gradients, heat maps."""
        layers = neuron_outputs(self.model, *self.grid)
        return {
            "type": "frame", "steps": self.steps, "running": self.running,
            "sps": round(self.sps, 1), "message": self.message, **self.metrics,
            "replay": self.batches.replay_for(min(self.settings.batch, len(self.train))),
            "weights": self._per_neuron(lambda p: finite(p.data)),
            "grads": self._per_neuron(lambda p: finite(p.grad)),
            "maps": [[encode(out) for out in layer] for layer in layers[:-1]],
            "surface": surface(layers[-1]),
            "history": self.history,
        }

    def _per_neuron(self, read) -> list[list[list]]:
        """Per layer, per neuron: ``read`` of its weights then of its bias."""
        return [[[read(p) for p in (*n.w, n.b)] for n in layer.neurons]
                for layer in self.model.layers]

    def state(self) -> dict:
        """The whole picture: settings, points, network shape and the current frame."""
        s = self.settings
        return {
            "type": "state", "settings": s.as_json(), "classes": s.classes,
            "points": [p.as_json() for p in self.points], "added_count": self.added,
            "extent": EXTENT, "grid": self.grid_size,
            "limits": {"layers": MAX_LAYERS, "neurons": MAX_NEURONS, "added": MAX_ADDED},
            "frame": self.frame(),
        }

    # -- commands ------------------------------------------------------------------------------

    def command(self, msg) -> Reply:
        """Apply one command from the page; a bad one raises CommandError and changes nothing."""
        if not isinstance(msg, dict) or not isinstance(msg.get("cmd"), str):
            raise CommandError('a command is an object with a "cmd" string, '
                               f"got {str(msg)[:80]!r}")
        handler = getattr(self, f"_cmd_{msg['cmd']}", None)
        if handler is None:
            raise CommandError(f"unknown command {msg['cmd'][:40]!r}")
        return handler(msg)

    def _cmd_play(self, msg) -> Reply:
        if not self.train:
            raise CommandError("there are no training points: add some or lower the test fraction")
        self.running = True
        self.message = ""
        self._mark = (time.perf_counter(), self.steps)
        return Reply("frame")

    def _cmd_pause(self, msg) -> Reply:
        self.running = False
        self.refresh()
        return Reply("frame")

    def _cmd_step(self, msg) -> Reply:
        self.running = False
        self.message = ""
        self.step()
        self.refresh()
        return Reply("frame")

    def _cmd_reset(self, msg) -> Reply:
        """Start over with new random weights (a new seed unless one is given)."""
        seed = msg.get("seed", random.randrange(2**31))
        self.settings = updated(self.settings, {"seed": seed})
        self.running = False
        self.message = ""
        self._new_network()
        return Reply("state")

    def _cmd_regenerate(self, msg) -> Reply:
        """New data from a new seed; the network keeps its weights."""
        self.settings = updated(self.settings, {"data_seed": random.randrange(2**31)})
        self._new_data()
        self.refresh()
        return Reply("state")

    def _cmd_set(self, msg) -> Reply:
        changes = msg.get("settings")
        new = updated(self.settings, changes)
        old, self.settings = self.settings, new
        if any(getattr(old, k) != getattr(new, k) for k in _DATA_KEYS):
            self._new_data()
        if any(getattr(old, k) != getattr(new, k) for k in _NET_KEYS):
            self.running = False
            self._new_network()
        elif old.loss != new.loss or old.optimizer != new.optimizer:
            self.batches = Batches(self.model, new.loss, new.classes,
                                   self.javascript)
            self._make_optimizer()
        else:
            self.optimizer.lr = new.lr
        self.refresh()
        return Reply("state")

    def _cmd_add(self, msg) -> Reply:
        """A training point, in O(1): the loss and accuracy with it come with the next frame."""
        x, y = (_coordinate(k, msg.get(k)) for k in ("x", "y"))
        label = _label(msg.get("label"), self.settings.classes)
        if self.added >= MAX_ADDED:
            raise CommandError(f"the plane holds at most {MAX_ADDED:,} added points: remove "
                               "some, or press New data to start from the data set again")
        point = Point(self._next_id, x, y, label, False)
        self.points.append(point)
        self._train.append(point)
        self._next_id += 1
        self.added += 1
        return self._points_changed([point], [])

    def _cmd_remove(self, msg) -> Reply:
        point = self.point(msg.get("id"), "id")
        self.points.remove(point)
        (self._test if point.test else self._train).remove(point)
        self._order = [p for p in self._order if p is not point]
        if point.id >= self._first_added:
            self.added -= 1
        return self._points_changed([], [point])

    def _points_changed(self, added: list[Point], removed: list[Point]) -> Reply:
        return Reply({"type": "points", "added": [p.as_json() for p in added],
                      "removed": [p.id for p in removed], "added_count": self.added})

    def _cmd_graph(self, msg) -> Reply:
        return Reply(None, self.graph(msg.get("point")))

    def _cmd_explain(self, msg) -> Reply:
        return Reply(None, self.explain(msg.get("param"), msg.get("point")))

    def point(self, pid, name: str = "point") -> Point:
        """The point with id ``pid``; ``name`` is the argument that gave it, for the error."""
        # Strictly an int: 1.0 == 1 and True == 1, but neither is how an id travels.
        if isinstance(pid, int) and not isinstance(pid, bool):
            for p in self.points:
                if p.id == pid:
                    return p
        raise CommandError(f"{name} must be the id of a point, got {shown(pid)}")

    # -- looking inside ------------------------------------------------------------------------

    def explain(self, param, point_id=None) -> dict:
        """∂loss/∂param over the training set now, and its chain rule on one example."""
        # A str first: a list or dict from JSON cannot even be looked up (unhashable).
        if not isinstance(param, str) or param not in self.names:
            raise CommandError(f"param must name a weight such as L1.N3.w2, got {shown(param)}")
        point = self.point(point_id) if point_id is not None else self._first_point()
        try:
            if self.train:
                self._gradients(self.train)
            loss, copy = self.example_graph(point)
        except (ArithmeticError, ValueError) as e:  # a diverged network: say so, do not crash
            raise CommandError(f"cannot compute gradients with these weights ({e}); "
                               "press reset") from None
        p = self.names[param]
        wrt = dict(copy.named_parameters())[param]
        text = str(autograd.explain(loss, wrt, max_paths=8))
        return {"type": "explain", "param": param, "value": finite(p.data),
                "grad": finite(p.grad), "l2_part": finite(2.0 * self.settings.l2 * p.data),
                "point": point.as_json(), "example_loss": finite(loss.data),
                "example_grad": finite(wrt.grad), "text": text}

    def _first_point(self) -> Point:
        pts = self.train or self.points
        if not pts:
            raise CommandError("there are no points to explain the gradient on")
        return pts[0]

    def graph(self, pid) -> dict:
        """One example's forward and backward graph, as the explorer page's data."""
        point = self.point(pid)
        try:
            loss, _ = self.example_graph(point)
        except (ArithmeticError, ValueError) as e:  # weights gone to NaN
            raise CommandError(f"cannot build the graph of example #{point.id} ({e}); "
                               "press reset") from None
        return {"type": "graph", "point": point.id,
                "title": f"Example #{point.id}: its loss, forward and backward",
                "payload": explorer_data(loss, layout=self.layout)}

    def example_graph(self, point: Point) -> tuple[Value, MLP]:
        """The loss on one point through a copy of the network, after backward (grads filled)."""
        copy = MLP(**self.model.config())
        for (_, mine), (_, theirs) in zip(self.model.named_parameters(), copy.named_parameters()):
            theirs.data = mine.data
        loss = example_loss(copy, self.settings.loss, point)
        loss.backward()
        return loss, copy


def _coordinate(name: str, v) -> float:
    if not real(v) or abs(v) > EXTENT:
        raise CommandError(f"{name} must be a number in [−{EXTENT}, {EXTENT}], got {shown(v)}")
    return float(v)


def _label(v, classes: int) -> int:
    # Strictly an int: 2.0 == 2 and True == 1 pass `in range(...)`, but the one-hot target and
    # the accuracy index by the label, and a float there stops training.
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < classes:
        raise CommandError(f"label must be an int in 0..{classes - 1}, got {shown(v)}")
    return v
