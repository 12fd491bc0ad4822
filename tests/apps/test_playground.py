"""The playground: training against PyTorch, commands, the server, and the page in Chromium."""
from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest

from nn import MLP
from apps.playground.data import Point, generate, spiral3
from apps.playground.graphs import Batches
from apps.playground.grid import grid, neuron_outputs
from apps.playground.session import Session
from apps.playground.settings import CommandError, Settings
from browser import headless_chromium, time_limit
from support import ROOT
from oracle import torch, require_torch

STATIC = ROOT / "apps" / "playground" / "static"


def needs_tornado() -> None:
    """Skip the calling test where tornado, the web library the server runs on, is missing:
    the training session and its commands need no server and are tested everywhere."""
    pytest.importorskip("tornado", reason="the playground's server runs on tornado")


# -- training on the engine, checked against PyTorch float64 ------------------------------------

def torch_loss(net: torch.nn.Module, loss: str, points: list[Point]) -> torch.Tensor:
    x = torch.tensor([[p.x, p.y] for p in points], dtype=torch.float64)
    y = torch.tensor([p.label for p in points])
    z = net(x)
    if z.shape[1] > 1:
        return torch.nn.functional.cross_entropy(z, y)
    z, sign = z[:, 0], 2 * y.double() - 1
    if loss == "cross-entropy":
        return torch.nn.functional.binary_cross_entropy_with_logits(z, y.double())
    if loss == "hinge":
        return torch.relu(1 - sign * z).mean()
    return ((z - sign) ** 2).mean()


def torch_grads(net: torch.nn.Module, value: torch.Tensor) -> list[float]:
    """Gradients in the order of ``named_parameters()``: per neuron its weights, then its bias."""
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    grads = torch.autograd.grad(value, [t for m in linears for t in (m.weight, m.bias)])
    out = []
    for W, b in zip(grads[::2], grads[1::2]):
        for j in range(W.shape[0]):
            out += [*W[j].tolist(), b[j].item()]
    return out


@pytest.mark.parametrize("dataset,loss", [("moons", "cross-entropy"), ("xor", "hinge"),
                                          ("circles", "squared"), ("spiral3", "cross-entropy")])
def test_batch_loss_and_gradient_match_pytorch(dataset, loss):
    require_torch()
    classes = 3 if dataset == "spiral3" else 2
    model = MLP(2, [5, 4, 1 if classes == 2 else 3], "tanh", seed=3)
    points = generate(dataset, 45, 0.1, 0.0, seed=2)
    batches = Batches(model, loss, classes)
    for p in model.parameters():
        p.grad = 0.0
    value, hits = batches.run(points, backward=True)
    net = model.to_torch()
    expected = torch_loss(net, loss, points)
    assert value == pytest.approx(expected.item(), rel=1e-12)
    assert [p.grad for p in model.parameters()] == pytest.approx(torch_grads(net, expected),
                                                                 rel=1e-9, abs=1e-14)
    with torch.no_grad():
        z = net(torch.tensor([[p.x, p.y] for p in points], dtype=torch.float64))
    guess = z.argmax(1) if classes == 3 else (z[:, 0] > 0).long()
    assert hits == sum(int(g) == p.label for g, p in zip(guess, points))


def test_a_training_step_computes_no_outputs_and_the_same_gradient():
    s = Session(Settings(points=40, hidden=(3,)))
    loss, hits = s.batches.run(s.train, backward=True)  # with the count, from zero grads
    counted = [p.grad for p in s.params]
    assert hits is not None and any(counted)
    s.batches.graph.outputs = None  # from here on, any call of it fails
    assert s._gradients(s.train) == loss  # (zeroes the grads first)
    assert [p.grad for p in s.params] == counted
    assert s.step() and s.steps == 1


def test_neuron_heat_maps_match_the_network():
    require_torch()
    model = MLP(2, [3, 4, 1], "relu", seed=5)
    xs, ys = grid(7, 1.6)
    layers = neuron_outputs(model, xs, ys)
    assert [len(layer) for layer in layers] == [3, 4, 1]
    net = model.to_torch()
    x = torch.tensor(list(zip(xs, ys)), dtype=torch.float64)
    with torch.no_grad():
        h1 = net[:2](x)
        h2 = net[:4](x)
        out = net(x)
    for got, want in [(layers[0], h1), (layers[1], h2), (layers[2], out)]:
        for j, column in enumerate(got):
            assert column == pytest.approx(want[:, j].tolist(), rel=1e-12, abs=1e-15)
    assert (xs[0], ys[0]) == (pytest.approx(-1.6 + 3.2 / 14), pytest.approx(1.6 - 3.2 / 14))


# -- data, settings, commands ----------------------------------------------------------------------

def test_spiral3_has_three_balanced_classes():
    X, y = spiral3(100, 0.0, seed=1)
    assert sorted(set(y)) == [0, 1, 2] and [y.count(k) for k in range(3)] == [34, 33, 33]
    assert all(0.09 < math.hypot(a, b) < 1.01 for a, b in X)
    assert spiral3(30, 0.1, seed=4) == spiral3(30, 0.1, seed=4)


def test_generate_splits_and_keeps_points_on_the_plane():
    points = generate("moons", 200, 0.3, 0.25, seed=1)
    assert sum(p.test for p in points) == 50
    assert all(abs(p.x) <= 1.6 and abs(p.y) <= 1.6 for p in points)
    assert len({p.id for p in points}) == 200


@pytest.mark.parametrize("changes,words", [
    ({"hidden": [8, 0]}, "between 1 and 8"),
    ({"lr": -0.1}, "learning rate"),
    ({"lr": float("nan")}, "finite"),
    ({"lr": None}, "finite"),
    ({"l2": float("inf")}, "finite"),
    ({"lr": 10**400}, "learning rate must be greater than 0 and at most 10, got 1000"),
    ({"noise": -10**400}, "noise must be at least 0 and at most 0.5, got -1000"),
    ({"batch": 0}, "batch size"),
    ({"batch": True}, "whole number"),
    ({"activation": "<b>x</b>"}, "activation must be one of"),
    ({"hidden": [8] * 7}, "at most 6"),
    ({"colour": 1}, "unknown setting"),
    ({"dataset": "spiral3", "loss": "hinge"}, "needs two classes"),
])
def test_bad_settings_are_refused_and_change_nothing(changes, words):
    s = Session(Settings(points=40))
    before = s.settings
    with pytest.raises(CommandError, match=re.escape(words)):
        s.command({"cmd": "set", "settings": changes})
    assert s.settings == before


@pytest.mark.parametrize("message", [None, 3, "play", [], {"cmd": 3}, {"cmd": "__init__"},
                                     {"cmd": "launch"},
                                     {"cmd": "add", "x": 0, "y": "1", "label": 0},
                                     {"cmd": "add", "x": 9, "y": 0, "label": 0},
                                     {"cmd": "add", "x": 0, "y": 0, "label": 2},
                                     {"cmd": "remove", "id": 10_000}, {"cmd": "remove", "id": True},
                                     {"cmd": "explain", "param": "L9.N1.w1"}])
def test_malformed_commands_raise_command_error(message):
    s = Session(Settings(points=20))
    with pytest.raises(CommandError):
        s.command(message)


@pytest.mark.parametrize("label", [2.0, 1.5, True, False, 3, -1, "1", None, [1], {"k": 1}])
def test_add_takes_only_a_class_number_as_label(label):
    # 2.0 == 2 and True == 1, but a point carries an int class: the one-hot target and the
    # accuracy index by it.
    s = Session(Settings(dataset="spiral3", points=30))
    with pytest.raises(CommandError, match=re.escape(f"label must be an int in 0..2, "
                                                     f"got {label!r}")):
        s.command({"cmd": "add", "x": 0.5, "y": 0.5, "label": label})
    assert len(s.points) == 30 and s.added == 0
    assert s.step() and s.steps == 1


@pytest.mark.parametrize("name", ["x", "y"])
@pytest.mark.parametrize("value", [True, "0.5", [0.5], None, float("nan"), float("inf"), 1.7,
                                   -2, pytest.param(10**400, id="a 401-digit int")])
def test_add_takes_only_a_real_number_on_the_plane_as_a_coordinate(name, value):
    s = Session(Settings(points=20))
    msg = {"cmd": "add", "x": 0.5, "y": -0.5, "label": 1, name: value}
    with pytest.raises(CommandError, match=rf"^{name} must be a number in \[−1\.6, 1\.6\], got "):
        s.command(msg)
    assert len(s.points) == 20


def test_add_takes_coordinates_on_the_edge_of_the_plane_and_ints():
    s = Session(Settings(dataset="spiral3", points=30))
    s.command({"cmd": "add", "x": -1.6, "y": 1, "label": 2})
    p = s.points[-1]
    assert (p.x, p.y, p.label) == (-1.6, 1.0, 2) and type(p.y) is float and type(p.label) is int


@pytest.mark.parametrize("param", [[1], {"L1.N1.w1": 1}, {}, 3, None, True, "L9.N1.w1"])
def test_explain_names_param_and_the_value_it_got(param):
    s = Session(Settings(points=20))
    with pytest.raises(CommandError, match=re.escape(f"param must name a weight such as "
                                                     f"L1.N3.w2, got {param!r}")):
        s.command({"cmd": "explain", "param": param})


@pytest.mark.parametrize("point", [[1], {}, 1.0, True, "0", 99_999, -1])
def test_explain_names_point_and_the_value_it_got(point):
    s = Session(Settings(points=20))
    with pytest.raises(CommandError, match=re.escape(f"point must be the id of a point, "
                                                     f"got {point!r}")):
        s.command({"cmd": "explain", "param": "L1.N1.w1", "point": point})


@pytest.mark.parametrize("pid", [1.0, True, "1", [1], 99_999])
def test_remove_names_id_and_the_value_it_got(pid):
    s = Session(Settings(points=20))
    with pytest.raises(CommandError, match=re.escape(f"id must be the id of a point, got {pid!r}")):
        s.command({"cmd": "remove", "id": pid})
    assert len(s.points) == 20


def test_add_remove_reset_and_settings_commands():
    s = Session(Settings(points=20, test_fraction=0.5))
    s.command({"cmd": "add", "x": 0.5, "y": -0.25, "label": 1})
    new = s.points[-1]
    assert (new.x, new.y, new.label, new.test) == (0.5, -0.25, 1, False)
    assert len(s.train) == 11
    s.command({"cmd": "remove", "id": new.id})
    assert new not in s.points
    for _ in range(3):
        s.command({"cmd": "step"})
    assert s.steps == 3
    s.command({"cmd": "set", "settings": {"lr": 0.5}})
    assert s.optimizer.lr == 0.5 and s.steps == 3  # a learning rate keeps the run
    s.command({"cmd": "reset"})
    assert s.steps == 0 and s.settings.seed != 1
    s.command({"cmd": "set", "settings": {"hidden": [3]}})
    assert [layer.nout for layer in s.model.layers] == [3, 1]


def test_adding_a_point_does_no_work_until_the_next_frame():
    s = Session(Settings(points=20, test_fraction=0.5))
    before = s.metrics
    s.batches.run = s.refresh = s.frame = s.state = None  # any call of them would fail
    replies = [s.command({"cmd": "add", "x": 0.1 * k, "y": 0.0, "label": k % 2})
               for k in range(5)]
    assert [r.broadcast["added"][0]["id"] for r in replies] == [20, 21, 22, 23, 24]
    assert replies[-1].broadcast["added_count"] == 5 and replies[-1].private is None
    assert len(json.dumps(replies[-1].broadcast)) < 200  # the new point only, not the plane
    assert len(s.train) == 15 and s.metrics == before
    removed = s.command({"cmd": "remove", "id": 22}).broadcast
    assert removed == {"type": "points", "added": [], "removed": [22], "added_count": 4}
    del s.batches.run, s.refresh, s.frame, s.state
    s.refresh()  # what the next frame does: the numbers now count the new points
    assert len(s.train) == 14 and s.metrics != before


def test_added_points_are_capped_with_a_message():
    from apps.playground.session import MAX_ADDED
    s = Session(Settings(points=20))
    for k in range(MAX_ADDED):
        s.command({"cmd": "add", "x": -1.5 + 3.0 * k / MAX_ADDED, "y": 0.5, "label": k % 2})
    with pytest.raises(CommandError, match="at most 2,000 added points: remove some"):
        s.command({"cmd": "add", "x": 0.0, "y": 0.0, "label": 0})
    assert len(s.points) == 20 + MAX_ADDED and s.added == MAX_ADDED
    s.command({"cmd": "remove", "id": 0})  # a point of the data set frees no room
    with pytest.raises(CommandError):
        s.command({"cmd": "add", "x": 0.0, "y": 0.0, "label": 0})
    s.command({"cmd": "remove", "id": s.points[-1].id})  # an added one does
    s.command({"cmd": "add", "x": 0.0, "y": 0.0, "label": 0})
    assert s.added == MAX_ADDED and s.state()["added_count"] == MAX_ADDED
    s.command({"cmd": "regenerate"})
    assert s.added == 0 and len(s.points) == 20
    s.command({"cmd": "add", "x": 0.0, "y": 0.0, "label": 0})


def test_mini_batches_cover_each_epoch_once():
    s = Session(Settings(points=40, test_fraction=0.5, batch=6))
    seen = []
    for _ in range(3):
        seen += [p.id for p in s._batch()]
    assert len(seen) == len(set(seen)) == 18


def test_a_diverging_run_pauses_itself_and_frames_stay_valid_json():
    s = Session(Settings(points=40, loss="squared", activation="relu", lr=10.0, hidden=(8, 8)))
    s.command({"cmd": "play"})
    for _ in range(200):
        if not s.step():
            break
    assert not s.running
    assert "Training paused" in s.message and "learning rate" in s.message
    s.refresh()
    json.dumps(s.state(), allow_nan=False)
    try:  # looking inside the broken network is answered, or refused with a message
        reply = s.command({"cmd": "explain", "param": "L1.N1.w1"}).private
        json.dumps(reply, allow_nan=False)
    except CommandError as e:
        assert "press reset" in str(e)


def test_training_reaches_95_percent_on_moons():
    s = Session()
    s.command({"cmd": "play"})
    for _ in range(600):
        s.step()
    s.refresh()
    assert s.metrics["train_accuracy"] >= 95 and s.metrics["test_accuracy"] >= 95


def test_explain_a_weight_for_one_example_matches_pytorch():
    require_torch()
    s = Session(Settings(points=30, hidden=(3, 2), l2=0.01))
    s.command({"cmd": "step"})
    point = s.points[4]
    reply = s.command({"cmd": "explain", "param": "L1.N2.w1", "point": point.id}).private
    assert reply["text"].startswith("∂loss/∂L1.N2.w1 by the chain rule: 2 paths")
    net = s.model.to_torch()
    x = torch.tensor([[point.x, point.y]], dtype=torch.float64)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        net(x)[:, 0], torch.tensor([float(point.label)], dtype=torch.float64))
    (g,) = torch.autograd.grad(loss, [net[0].weight])
    assert reply["example_grad"] == pytest.approx(g[1, 0].item(), rel=1e-10)
    # Over the training set: ∂(mean loss)/∂w from PyTorch, plus the L2 term's 2·0.01·w.
    net = s.model.to_torch()
    full = torch_grads(net, torch_loss(net, "cross-entropy", s.train))
    k = [name for name, _ in s.model.named_parameters()].index("L1.N2.w1")
    w = s.names["L1.N2.w1"].data
    assert reply["l2_part"] == pytest.approx(0.02 * w, rel=1e-12)
    assert reply["grad"] == pytest.approx(full[k] + 0.02 * w, rel=1e-9)
    assert reply["value"] == w


def test_example_graph_is_the_explorer_page_of_that_example():
    needs_tornado()
    from apps.playground.server import render_graph

    s = Session(Settings(points=20, hidden=(2,)))
    point = s.points[3]
    loss, copy = s.example_graph(point)
    assert loss.label == "loss" and loss.grad == 1.0  # backward has run on the copy
    assert all(p.grad == 0.0 for p in s.model.parameters())  # the run's own weights untouched
    kind, body = render_graph(loss)
    assert kind == "text/html; charset=utf-8"
    assert body.startswith(b"<!DOCTYPE html>") and b'id="mode"' in body
    assert b"L1.N2.w1" in body  # the example's own weights are on the page


def test_the_session_needs_no_web_library():
    """The training session runs without tornado (as in the static site's worker, under
    Pyodide); only the server needs it, and saying so is the error."""
    code = ("import sys; sys.modules['tornado'] = None\n"
            "from apps.playground import Session, Settings\n"
            "Session(Settings(points=10, hidden=(2,))).step()\n"
            "from apps.playground import serve\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    last = run.stderr.strip().splitlines()[-1]
    assert run.returncode == 1 and 'File "<string>", line 4' in run.stderr, run.stderr
    assert last.startswith("ModuleNotFoundError") and "tornado" in last, run.stderr


# -- the runner: training in slices, frames, the speed control ------------------------------------

class Clock:
    """A clock for the runner: each reading moves it on by 0.1 ms; a test jumps it forward."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1e-4
        return self.now


def run_for(runner, clock, seconds: float) -> list[dict]:
    """Drive ``runner`` as a transport does (tick, then wait as long as it asks) for ``seconds``
    of clock time; the messages it sent."""
    end = clock.now + seconds
    sent = []
    while True:
        sent += [message for message, _ in runner.tick()]
        delay = runner.wait()
        assert delay is not None and delay >= 0, delay  # a running session is never idle
        if clock.now + delay >= end:
            return sent
        clock.now += delay


@pytest.mark.parametrize("speed,seconds", [(1, 10.0), (20, 5.0)])
def test_speed_paces_the_steps_and_every_step_is_shown(speed, seconds):
    from apps.playground.runner import Runner

    clock = Clock()
    runner = Runner(Session(Settings(points=20, hidden=(2,))), clock)
    runner.command({"cmd": "set", "settings": {"speed": speed}})
    runner.command({"cmd": "play"})
    sent = run_for(runner, clock, seconds)
    # The first step at once, then one every 1/speed seconds.
    assert runner.session.steps in (speed * seconds, speed * seconds + 1)
    shown = [m["steps"] for m in sent if m["type"] == "frame"]
    assert shown == sorted(shown) and shown[-1] >= runner.session.steps - speed / 4
    if speed <= 4:  # a frame for every step: the learner sees each move of the boundary
        assert set(range(1, runner.session.steps + 1)) <= set(shown)
    # At most four frames a second, however slow the run.
    assert len(shown) <= 4 * seconds + 1


def test_slow_frames_come_less_often_so_that_training_keeps_two_thirds_of_the_time():
    """In the browser's worker a frame costs 0.1 to 0.15 s: four a second would leave training
    little more than half the time."""
    from apps.playground.runner import Runner

    clock = Clock()
    runner = Runner(Session(Settings(points=20, hidden=(2,))), clock)
    real_frame = runner.session.frame

    def slow_frame():
        clock.now += 0.15
        return real_frame()

    runner.session.frame = slow_frame
    runner.command({"cmd": "play"})
    frames = [m for m in run_for(runner, clock, 9.0) if m["type"] == "frame"]
    assert 9.0 / 0.45 - 2 <= len(frames) <= 9.0 / 0.45 + 1  # one per 3 × 0.15 s


def test_a_frame_that_fails_while_training_pauses_the_run_with_a_message():
    from apps.playground.runner import Runner

    clock = Clock()
    runner = Runner(Session(Settings(points=20, hidden=(2,))), clock)
    session, real_frame = runner.session, runner.session.frame

    def frame_failing_once():
        session.frame = real_frame
        raise TypeError("injected failure")

    runner.command({"cmd": "play"})
    session.frame = frame_failing_once
    sent = []
    while not sent:  # train until the first frame is due, and fails
        sent = [message for message, _ in runner.tick()]
        clock.now += runner.wait() or 0.0
    assert not session.running and runner.wait() is None
    assert [m["type"] for m in sent] == ["frame"] and not sent[0]["running"]
    assert sent[0]["message"] == (f"Training paused at step {session.steps} by an internal "
                                  "error (TypeError: injected failure); press play to go on.")


def test_full_speed_trains_whole_slices_without_waiting():
    from apps.playground.runner import SLICE, Runner

    clock = Clock()
    runner = Runner(Session(Settings(points=20, hidden=(2,))), clock)
    assert runner.session.settings.speed is None  # full speed by default
    runner.command({"cmd": "play"})
    before = clock.now
    runner.tick()
    assert clock.now - before >= SLICE and runner.session.steps > 10
    assert runner.wait() == 0


def test_changing_the_speed_takes_effect_at_once():
    from apps.playground.runner import Runner

    clock = Clock()
    runner = Runner(Session(Settings(points=20, hidden=(2,), speed=1)), clock)
    runner.command({"cmd": "play"})
    run_for(runner, clock, 0.5)  # the first step at once, its frame ¼ s after play
    assert runner.session.steps == 1 and runner.wait() > 0.5  # the next step about 1 s later
    runner.command({"cmd": "set", "settings": {"speed": None}})  # full speed: no waiting
    assert runner.wait() == 0
    run_for(runner, clock, 0.1)
    assert runner.session.steps > 10
    runner.command({"cmd": "set", "settings": {"speed": 2}})  # slower: the next step in ½ s
    steps = runner.session.steps
    run_for(runner, clock, 2.0)
    assert runner.session.steps - steps in (4, 5)


def test_pause_holds_and_an_idle_runner_asks_for_no_tick():
    from apps.playground.runner import Runner

    clock = Clock()
    runner = Runner(Session(Settings(points=20, hidden=(2,))), clock)
    assert runner.wait() is None
    runner.command({"cmd": "play"})
    run_for(runner, clock, 0.1)
    sent, _ = runner.command({"cmd": "pause"})
    steps = runner.session.steps
    assert [(m["type"], m["running"], d) for m, d in sent] == [("frame", False, False)]
    assert runner.wait() is None and runner.tick() == [] and runner.session.steps == steps


@pytest.mark.parametrize("speed", [0, 0.5, 1001, float("nan"), "1", True, [1]])
def test_speed_out_of_range_is_refused(speed):
    s = Session(Settings(points=20))
    with pytest.raises(CommandError, match=re.escape("speed must be a number of steps per second "
                                                     "from 1 to 1000, or null for full speed")):
        s.command({"cmd": "set", "settings": {"speed": speed}})
    assert s.settings.speed is None


# -- the server -----------------------------------------------------------------------------------

def test_a_busy_tab_skips_training_frames_but_never_a_command_result():
    needs_tornado()
    from apps.playground.server import Playground

    class BusyTab:
        """A tab still taking in an earlier frame: it drops whatever may be dropped."""

        def __init__(self):
            self.received = []

        def send(self, text, droppable=False):
            if not droppable:
                self.received.append(json.loads(text))

    async def run():
        playground = Playground(session=Session(Settings(points=20)))
        tab = BusyTab()
        playground.sockets.add(tab)
        playground.apply({"cmd": "play"})
        playground.apply({"cmd": "pause"})
        return tab.received

    received = asyncio.run(run())
    assert [(m["type"], m["running"]) for m in received] == [("frame", True), ("frame", False)]


def test_points_added_while_paused_reach_the_tabs_at_once_and_frames_follow():
    needs_tornado()
    from apps.playground.runner import FRAME_INTERVAL
    from apps.playground.server import Playground

    class Tab:
        def __init__(self):
            self.received = []

        def send(self, text, droppable=False):
            self.received.append((time.perf_counter(), json.loads(text)))

        def close(self):
            pass

    async def run():
        playground = Playground(session=Session(Settings(points=20, test_fraction=0.5)))
        tab = Tab()
        playground.sockets.add(tab)
        await playground.start()  # its loop ticks the runner, which sends the frames owed
        for k in range(3):  # a burst: each point at once, one frame for all three
            playground.apply({"cmd": "add", "x": 0.5, "y": 0.1 * k, "label": 1})
        assert [m["type"] for _, m in tab.received] == ["points"] * 3
        for k in range(12):  # a click every 50 ms
            await asyncio.sleep(0.05)
            playground.apply({"cmd": "add", "x": -0.5, "y": 0.1 * k, "label": k % 2})
        # Timers fire in deadline order, so the last frame is in before this sleep ends.
        await asyncio.sleep(FRAME_INTERVAL + 0.5)
        await playground.stop()
        return tab.received

    received = asyncio.run(run())
    kinds = [m["type"] for _, m in received]
    assert kinds[:4] == ["points"] * 3 + ["frame"] and kinds[-1] == "frame"
    assert kinds.count("points") == 15 and 2 <= kinds.count("frame") < 15
    sent = [t for t, m in received if m["type"] == "frame"]
    gaps = [b - a for a, b in zip(sent, sent[1:])]
    assert min(gaps) >= FRAME_INTERVAL * 0.99, gaps
    everything = Session(Settings(points=20, test_fraction=0.5))
    for _, m in received:
        for p in m.get("added", []):
            everything.command({"cmd": "add", **{k: p[k] for k in ("x", "y", "label")}})
    everything.refresh()
    last = received[-1][1]
    assert (last["train_loss"], last["train_accuracy"]) == \
        (everything.metrics["train_loss"], everything.metrics["train_accuracy"])


class FrameTab:
    """A tab that keeps every frame and error it is sent."""

    def __init__(self):
        self.frames, self.errors = [], []

    def send(self, text, droppable=False):
        message = json.loads(text)
        if message["type"] in ("frame", "error"):
            (self.frames if message["type"] == "frame" else self.errors).append(message)

    def close(self):
        pass


async def _until(predicate, what: str, seconds: float = 60):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"waited {seconds} s for {what}")


def test_a_bug_in_a_training_step_pauses_the_run_with_a_message_and_training_goes_on():
    needs_tornado()
    from apps.playground.server import Playground

    session = Session(Settings(points=20))
    real_step, failures = session.step, []

    def step_failing_when_told():
        if failures:
            raise failures.pop()
        return real_step()

    session.step = step_failing_when_told

    async def run():
        playground, tab = Playground(session=session), FrameTab()
        playground.sockets.add(tab)
        await playground.start()
        try:
            playground.apply({"cmd": "play"})
            await _until(lambda: tab.frames[-1]["sps"] > 0, "a frame of a run going")
            failures.append(TypeError("injected failure"))
            await _until(lambda: not tab.frames[-1]["running"], "the run to pause itself")
            last = tab.frames[-1]
            assert last["steps"] == session.steps > 0 and not session.running
            assert last["sps"] == 0  # a paused run makes no steps per second
            assert last["message"] == (f"Training paused at step {session.steps} by an internal "
                                       "error (TypeError: injected failure); press play to go on.")
            playground.apply({"cmd": "pause"})
            assert tab.frames[-1]["steps"] == last["steps"] and not tab.frames[-1]["running"]
            playground.apply({"cmd": "step"})
            assert tab.frames[-1]["steps"] == last["steps"] + 1
            playground.apply({"cmd": "play"})
            assert tab.frames[-1]["running"] and tab.frames[-1]["message"] == ""
            await _until(lambda: tab.frames[-1]["steps"] > last["steps"] + 20,
                         "the steps to grow again")
            playground.apply({"cmd": "pause"})
            assert not tab.frames[-1]["running"] and not tab.errors
        finally:
            await playground.stop()

    asyncio.run(run())


def test_a_bug_in_training_and_in_the_frame_after_it_still_reaches_the_tabs():
    needs_tornado()
    from apps.playground.server import Playground

    session = Session(Settings(points=20))
    real_frame = session.frame

    def step_failing():
        raise TypeError("injected failure")

    def frame_failing_once():
        session.frame = real_frame
        raise TypeError("the frame fails too")

    async def run():
        playground, tab = Playground(session=session), FrameTab()
        playground.sockets.add(tab)
        await playground.start()
        try:
            playground.apply({"cmd": "play"})
            session.step, session.frame = step_failing, frame_failing_once
            await _until(lambda: tab.errors, "the message")
            assert tab.errors == [{"type": "error", "message": "Training paused at step 0 by an "
                                   "internal error (TypeError: injected failure); press play to "
                                   "go on."}]
            del session.step
            playground.apply({"cmd": "play"})
            await _until(lambda: tab.frames[-1]["steps"] > 5, "the steps to grow again")
        finally:
            await playground.stop()

    asyncio.run(run())


def test_a_bug_in_a_paused_frame_is_reported_and_frames_follow_again():
    needs_tornado()
    from apps.playground.server import Playground

    session = Session(Settings(points=20))
    real_refresh, calls = session.refresh, []

    def refresh_failing_once():
        calls.append(None)
        if len(calls) == 1:
            raise TypeError("injected failure")
        real_refresh()

    session.refresh = refresh_failing_once

    async def run():
        playground, tab = Playground(session=session), FrameTab()
        playground.sockets.add(tab)
        await playground.start()
        try:
            playground.apply({"cmd": "add", "x": 0.5, "y": 0.5, "label": 1})
            await _until(lambda: tab.errors, "the error")
            assert tab.errors == [{"type": "error", "message": "the numbers could not be "
                                   "updated: internal error (TypeError: injected failure)"}]
            playground.apply({"cmd": "add", "x": -0.5, "y": 0.5, "label": 0})
            await _until(lambda: tab.frames, "a frame")
            assert tab.frames[-1]["train_accuracy"] is not None and len(tab.errors) == 1
        finally:
            await playground.stop()

    asyncio.run(run())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server_process(prefix: list[str] = ()):
    """``python -m nn.playground --no-browser`` on a free port (run by ``prefix``, if given);
    yields (process, url)."""
    needs_tornado()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "nn.playground", "--no-browser",
                             "--port", str(_free_port())], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, f"no URL printed: {line!r} {proc.stderr.read() if proc.poll() else ''}"
        yield proc, match[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(60)
        proc.stdout.close()
        proc.stderr.close()


def _request(url: str, body: bytes | None = None, kind: str = "application/json"):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": kind} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


@pytest.mark.parametrize("inherited", ["default", "ignored"])
def test_cli_sigint_while_playing_stops_and_releases_the_port(inherited):
    """Ctrl-C stops a server that is training, with a tab open and points being added. A
    shell script's background job starts with SIGINT ignored; ``kill -INT`` still stops it."""
    needs_tornado()
    from tornado.websocket import websocket_connect

    async def play_then_interrupt(proc, url) -> None:
        tab = await websocket_connect(url.replace("http", "ws") + "ws",
                                      max_message_size=64 * 1024 * 1024)
        assert json.loads(await tab.read_message())["type"] == "state"
        await tab.write_message(json.dumps({"cmd": "play"}))
        for k in range(50):
            await tab.write_message(json.dumps({"cmd": "add", "x": k / 50, "y": 0.5,
                                                "label": k % 2}))
        added = 0
        while True:  # until a frame shows the run training on the added points
            message = json.loads(await tab.read_message())
            added += message["type"] == "points"
            if message["type"] == "frame" and message["running"] and message["steps"] > 0 \
                    and added == 50:
                break
        proc.send_signal(signal.SIGINT)  # how long the exit takes: bench_playground.py
        await asyncio.to_thread(proc.wait, 60)
        while await tab.read_message() is not None:  # the server closed the tab's connection
            pass

    prefix = ["sh", "-c", 'trap "" INT; exec "$@"', "sh"] if inherited == "ignored" else []
    with server_process(prefix) as (proc, url):
        port = int(url.rsplit(":", 1)[1].strip("/"))
        asyncio.run(play_then_interrupt(proc, url))
        assert proc.returncode == 0
        assert "stopped" in proc.stdout.read()
        with socket.socket() as sock:
            # As a restarted server would: SO_REUSEADDR lets the bind ignore the connections
            # left in TIME_WAIT, but not a socket still listening.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen()


def test_a_port_in_use_is_reported_and_the_first_server_keeps_it():
    with server_process() as (_, url):
        port = url.rsplit(":", 1)[1].strip("/")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        second = subprocess.run([sys.executable, "-m", "nn.playground", "--no-browser", "--port",
                                 port], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert _request(url + "api/state")[0] == 200


def test_bad_requests_get_4xx_and_the_server_keeps_answering():
    with server_process() as (proc, url):
        assert _request(url + "api/command", b"{not json")[0] == 400
        assert _request(url + "api/command", b'{"cmd": "set", "settings": {"lr": -1}}') == \
            (400, {"type": "error", "message": "learning rate must be greater than 0 and at "
                                                  "most 10, got -1"})
        assert _request(url + "api/command", b'{"cmd": "play"}', "text/plain")[0] == 415
        assert _request(url + "api/command", b"[" * 100_000)[0] == 400  # too deep for json
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            _request(url + "api/command", b" " * 2_000_000)  # over the size limit: cut off
        assert _request(url + "nowhere")[0] == 404
        assert _request(url + "graph/99999")[0] == 404
        with urllib.request.urlopen(url + "graph/0", timeout=60) as r:
            assert r.headers["Content-Type"] == "text/html; charset=utf-8"
        bad_host = urllib.request.Request(url + "api/state", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(bad_host, timeout=60)
        status, state = _request(url + "api/state")
        assert status == 200 and state["type"] == "state" and len(state["points"]) == 200
        assert proc.poll() is None


def test_malformed_commands_get_typed_errors_over_the_wire_and_training_goes_on():
    """A float label used to reach the one-hot encoding inside the training task and stop
    training until the server restarted."""
    needs_tornado()
    from tornado.websocket import websocket_connect

    refusals = [
        ({"cmd": "add", "x": 0.5, "y": 0.5, "label": 2.0}, "label must be an int in 0..2, got 2.0"),
        ({"cmd": "add", "x": 10**400, "y": 0.5, "label": 2}, "x must be a number in [−1.6, 1.6], "
                                                             f"got 1{'0' * 39}…"),
        ({"cmd": "explain", "param": [1]}, "param must name a weight such as L1.N3.w2, got [1]"),
        ({"cmd": "explain", "param": {"L1.N1.w1": 1}},
         "param must name a weight such as L1.N3.w2, got {'L1.N1.w1': 1}"),
        ({"cmd": "explain", "param": "L1.N1.w1", "point": [0]},
         "point must be the id of a point, got [0]"),
    ]

    async def talk(url):
        tab = await websocket_connect(url.replace("http", "ws") + "ws",
                                      max_message_size=64 * 1024 * 1024)
        assert json.loads(await tab.read_message())["type"] == "state"
        await tab.write_message(json.dumps({"cmd": "set", "settings": {"dataset": "spiral3"}}))
        assert json.loads(await tab.read_message())["classes"] == 3
        for command, message in refusals:
            await tab.write_message(json.dumps(command))
            assert json.loads(await tab.read_message()) == {"type": "error", "message": message}
        await tab.write_message(json.dumps({"cmd": "play"}))
        while True:
            frame = json.loads(await tab.read_message())
            assert frame["type"] == "frame" and frame["message"] == ""
            if frame["running"] and frame["steps"] > 20:
                break
        await tab.write_message(json.dumps({"cmd": "pause"}))
        tab.close()

    with server_process() as (proc, url):
        asyncio.run(asyncio.wait_for(talk(url), 60))
        for command, message in refusals:
            assert _request(url + "api/command", json.dumps(command).encode()) == \
                (400, {"type": "error", "message": message})
        assert _request(url + "graph/99999") == \
            (404, {"type": "error", "message": "point must be the id of a point, got 99999"})
        status, state = _request(url + "api/state")
        assert status == 200 and len(state["points"]) == 200 and state["frame"]["steps"] > 20
        assert proc.poll() is None


def test_the_server_honours_the_speed_over_the_wire():
    """At 1 step per second the steps grow about once a second; back at full speed, fast."""
    needs_tornado()
    from tornado.websocket import websocket_connect

    async def frames_until(tab, done):
        while True:
            message = json.loads(await tab.read_message())
            if message["type"] == "frame" and done(message):
                return message

    async def talk(url):
        tab = await websocket_connect(url.replace("http", "ws") + "ws",
                                      max_message_size=64 * 1024 * 1024)
        assert json.loads(await tab.read_message())["type"] == "state"
        await tab.write_message(json.dumps({"cmd": "set", "settings": {"speed": 1}}))
        assert json.loads(await tab.read_message())["settings"]["speed"] == 1
        await tab.write_message(json.dumps({"cmd": "play"}))
        first = await frames_until(tab, lambda m: m["running"] and m["steps"] >= 1)
        start, steps = time.monotonic(), first["steps"]
        seen = await frames_until(tab, lambda m: time.monotonic() - start > 3.0)
        elapsed = time.monotonic() - start
        # Steps are due once a second: in ``elapsed`` seconds at most elapsed + 1 of them.
        assert 1 <= seen["steps"] - steps <= elapsed + 1, (seen["steps"], steps, elapsed)
        await tab.write_message(json.dumps({"cmd": "set", "settings": {"speed": None}}))
        fast = await frames_until(tab, lambda m: m["steps"] > seen["steps"] + 200)
        assert fast["running"]
        await tab.write_message(json.dumps({"cmd": "pause"}))
        tab.close()

    with server_process() as (_, url):
        asyncio.run(asyncio.wait_for(talk(url), 60))


def test_two_tabs_share_one_run_over_websockets():
    needs_tornado()
    from tornado.websocket import websocket_connect

    async def talk(url):
        ws_url = url.replace("http", "ws") + "ws"
        a, b = await websocket_connect(ws_url), await websocket_connect(ws_url)
        first = [json.loads(await a.read_message()), json.loads(await b.read_message())]
        assert [m["type"] for m in first] == ["state", "state"]
        await a.write_message("not json {")
        assert json.loads(await a.read_message())["type"] == "error"
        await a.write_message(json.dumps({"cmd": "set", "settings": {"hidden": [0]}}))
        error = json.loads(await a.read_message())
        assert error["type"] == "error" and "between 1 and 8" in error["message"]
        await a.write_message(json.dumps({"cmd": "step"}))
        seen_by_b = json.loads(await b.read_message())
        assert seen_by_b["type"] == "frame" and seen_by_b["steps"] == 1
        a.close()
        b.close()

    with server_process() as (_, url):
        asyncio.run(asyncio.wait_for(talk(url), 30))


def test_show_serves_in_the_background_and_stops():
    pytest.importorskip("IPython")
    needs_tornado()
    import threading

    import apps.playground as playground
    frame = playground.show()
    try:
        assert frame.src.startswith("http://127.0.0.1:")
        assert _request(frame.src + "api/state")[0] == 200
        assert playground.show().src == frame.src  # one server, however many cells show it
    finally:
        playground.stop()
    assert not [t for t in threading.enumerate() if t.name == "nn.playground"]
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(frame.src + "api/state", timeout=60)


# -- the page -------------------------------------------------------------------------------------

def test_page_is_our_own_code_and_fetches_nothing_from_the_network():
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    script = (STATIC / "playground.js").read_text(encoding="utf-8")
    style = (STATIC / "playground.css").read_text(encoding="utf-8")
    for text in (page, script, style):
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)
        assert "@import" not in text and "url(" not in text
    # Text reaches the page only through textContent and attributes.
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(",
                         script)
    for hook in ["play", "pause", "step", "reset", "loss", "accuracy", "steps", "plane"]:
        assert len(re.findall(rf'id="{hook}"', page)) == 1




def chromium(tmp_path):
    return headless_chromium(tmp_path / "profile", window="1400,1000", logs=("browser",))


def _wait(predicate, seconds: float, what: str):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"waited {seconds} s for {what}")


@pytest.mark.slow
def test_page_trains_moons_in_headless_chromium(tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with time_limit(150), server_process() as (_, url), chromium(tmp_path) as driver:
        text = lambda id_: driver.find_element(By.ID, id_).text  # noqa: E731
        driver.get(url)
        _wait(lambda: text("connection") == "connected" and text("steps") == "0", 60, "the page")
        driver.find_element(By.ID, "play").click()
        _wait(lambda: float(text("accuracy")) >= 95 and int(text("steps")) > 0, 60,
              "95% accuracy on moons")
        first = int(text("steps"))
        _wait(lambda: int(text("steps")) > first, 60, "the step count to grow")
        driver.find_element(By.ID, "pause").click()
        _wait(lambda: not driver.find_element(By.ID, "play").get_attribute("disabled"), 60, "pause")
        paused = text("steps")
        time.sleep(1.0)
        assert text("steps") == paused

        # Closing and reopening the tab resumes the run.
        driver.get(url)
        _wait(lambda: text("steps") == paused, 60, "the same run after reopening")

        # A click on the plane adds a point; a click on it removes it again.
        n = len(_request(url + "api/state")[1]["points"])
        plane = driver.find_element(By.ID, "plane")
        ActionChains(driver).move_to_element_with_offset(plane, 150, -150).click().perform()
        _wait(lambda: len(_request(url + "api/state")[1]["points"]) == n + 1, 60, "a new point")
        _wait(lambda: text("point-count").startswith(f"{n + 1} points") and
              "; 1 added by clicks, at most 2,000." in text("point-count"), 60, "the page's count")
        # The page knows the new point (a click on it removes it, not adds another).
        ActionChains(driver).move_to_element_with_offset(plane, 150, -150).click().perform()
        _wait(lambda: len(_request(url + "api/state")[1]["points"]) == n, 60, "the point removed")
        _wait(lambda: "; 0 added by clicks" in text("point-count"), 60, "the page's count")
        ActionChains(driver).move_to_element_with_offset(plane, -150, 150).key_down(Keys.SHIFT) \
            .click().key_up(Keys.SHIFT).perform()
        added = _wait(lambda: (lambda pts: len(pts) == n + 1 and pts[-1])(
            _request(url + "api/state")[1]["points"]), 60, "a shift-click adding a point")
        assert added["label"] == 1 and added["id"] >= n and not added["test"]

        # A refused setting shows its message as text, however it is spelled.
        lr = driver.find_element(By.ID, "lr")
        lr.clear()
        lr.send_keys("-1")
        driver.find_element(By.ID, "steps").click()
        _wait(lambda: "learning rate must be" in text("message"), 60, "the refusal")
        driver.execute_script(
            "const s = document.getElementById('activation');"
            "const o = document.createElement('option');"
            "o.value = '<img src=x onerror=window.pwned=1>';"
            "s.append(o); s.value = o.value; s.dispatchEvent(new Event('change'));")
        _wait(lambda: "<img src=x" in text("message"), 60, "the escaped message")
        assert driver.execute_script("return window.pwned === undefined && "
                                     "!document.querySelector('#message img')")

        # An edge explains its weight with the chain rule.
        driver.execute_script("document.querySelector('#network path.hit')"
                              ".dispatchEvent(new MouseEvent('click'))")
        _wait(lambda: "by the chain rule" in text("explain-text"), 60, "an explanation")
        assert "∂loss/∂L1.N1.w1" in text("explain-text")

        driver.find_element(By.ID, "reset").click()
        _wait(lambda: text("steps") == "0", 60, "reset")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors


@pytest.mark.slow
def test_page_shows_a_training_failure_and_clears_it_once_play_goes_on(tmp_path, monkeypatch):
    from selenium.webdriver.common.by import By

    needs_tornado()
    from apps.playground.server import Background

    real_step = Session.step

    def step_failing_once(self):
        if self.steps == 30 and not hasattr(self, "failed_once"):
            self.failed_once = True
            raise TypeError("injected failure")
        return real_step(self)

    monkeypatch.setattr(Session, "step", step_failing_once)
    server = Background().start()
    try:
        with time_limit(150), chromium(tmp_path) as driver:
            text = lambda id_: driver.find_element(By.ID, id_).text  # noqa: E731
            driver.get(server.url)
            _wait(lambda: text("connection") == "connected", 60, "the page")
            driver.find_element(By.ID, "play").click()
            _wait(lambda: "internal error" in text("message"), 60, "the failure")
            assert text("message") == ("⚠ Training paused at step 30 by an internal error "
                                       "(TypeError: injected failure); press play to go on.")
            assert text("steps") == "30"
            _wait(lambda: not driver.find_element(By.ID, "play").get_attribute("disabled"), 60,
                  "play to be enabled")
            driver.save_screenshot(str(tmp_path / "failure.png"))
            driver.find_element(By.ID, "play").click()
            _wait(lambda: int(text("steps")) > 60, 60, "the steps to grow again")
            _wait(lambda: text("message") == "", 60, "the old message to go")
            # A command's refusal stays up while frames come in.
            lr = driver.find_element(By.ID, "lr")
            lr.clear()
            lr.send_keys("-1")
            driver.find_element(By.ID, "steps").click()
            _wait(lambda: "learning rate must be" in text("message"), 60, "a refusal")
            steps = int(text("steps"))
            _wait(lambda: int(text("steps")) > steps + 20, 60, "more frames")
            assert "learning rate must be" in text("message")
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, errors
    finally:
        server.stop()


@pytest.mark.slow
def test_page_speed_control_slows_the_run_down_to_watch_and_back(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with time_limit(150), server_process() as (_, url), chromium(tmp_path) as driver:
        text = lambda id_: driver.find_element(By.ID, id_).text  # noqa: E731
        steps = lambda: int(text("steps"))  # noqa: E731
        driver.get(url)
        _wait(lambda: text("connection") == "connected" and text("steps") == "0", 60, "the page")
        speed = driver.find_element(By.ID, "speed")
        assert text("speed-value") == "full" and _request(url + "api/state")[1]["settings"][
            "speed"] is None
        speed.send_keys(Keys.HOME)  # the slowest stop, from the keyboard
        _wait(lambda: _request(url + "api/state")[1]["settings"]["speed"] == 1, 60, "1 step/s")
        assert text("speed-value") == "1 step/s"
        driver.find_element(By.ID, "play").click()
        _wait(lambda: steps() >= 1, 60, "the first step")
        start, first = time.monotonic(), steps()
        time.sleep(3.5)
        grown, elapsed = steps() - first, time.monotonic() - start
        assert 1 <= grown <= elapsed + 1, (grown, elapsed)
        speed.send_keys(Keys.END)  # full speed again
        _wait(lambda: text("speed-value") == "full" and steps() > first + grown + 200, 60,
              "full speed")
        driver.find_element(By.ID, "pause").click()
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
