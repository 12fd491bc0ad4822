"""The playground's driver for the static site's Web Worker, tested in Python (no browser):
the same messages as the server's, errors as messages, and the worker always answering."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from apps.playground.browser import Worker
from apps.playground.runner import FRAME_INTERVAL
from apps.playground.session import Session
from apps.playground.settings import Settings
from support import ROOT


class Clock:
    """Each reading moves it on by 0.1 ms; a test jumps it forward."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1e-4
        return self.now


def small(**settings) -> Worker:
    worker = Worker(session=Session(Settings(points=20, hidden=(2,), **settings)))
    worker.runner.clock = Clock()
    return worker


def talk(worker: Worker, command) -> list[dict]:
    texts = worker.receive(json.dumps(command))
    assert all(isinstance(t, str) for t in texts)
    return [json.loads(t) for t in texts]


def ticks(worker: Worker, seconds: float) -> list[dict]:
    """What the worker's script does: tick, wait as long as asked, for ``seconds`` of clock."""
    clock, sent = worker.runner.clock, []
    end = clock.now + seconds
    while True:
        sent += [json.loads(t) for t in worker.tick()]
        delay = worker.wait()
        if delay is None or clock.now + delay >= end:
            return sent
        clock.now += delay


def test_start_gives_the_state_the_server_gives_a_new_tab():
    worker = Worker(session=Session(Settings(points=20)))
    (state,) = [json.loads(t) for t in worker.start()]
    assert state == json.loads(json.dumps(worker.runner.session.state()))
    assert state["type"] == "state" and len(state["points"]) == 20


def test_play_trains_in_ticks_and_pause_holds():
    worker = small()
    assert worker.wait() is None  # nothing to do until a command
    (frame,) = talk(worker, {"cmd": "play"})
    assert frame["type"] == "frame" and frame["running"] and worker.wait() == 0
    frames = [m for m in ticks(worker, 1.0) if m["type"] == "frame"]
    assert frames and frames[-1]["steps"] > 10 and all(f["running"] for f in frames)
    (paused,) = talk(worker, {"cmd": "pause"})
    assert not paused["running"] and paused["steps"] == worker.runner.session.steps
    assert worker.wait() is None and worker.tick() == []
    assert worker.runner.session.steps == paused["steps"]


def test_speed_paces_the_worker_too():
    worker = small(speed=2)
    talk(worker, {"cmd": "play"})
    ticks(worker, 5.0)
    assert worker.runner.session.steps in (10, 11)


def test_a_click_adds_a_point_and_the_numbers_follow_in_a_frame():
    worker = small()
    (points,) = talk(worker, {"cmd": "add", "x": 0.5, "y": -0.5, "label": 1})
    assert points["type"] == "points" and points["added"][0]["x"] == 0.5
    assert 0 <= worker.wait() <= FRAME_INTERVAL
    (frame,) = ticks(worker, 1.0)
    assert frame["type"] == "frame" and worker.wait() is None


@pytest.mark.parametrize("text,message", [
    ("not json {", "not valid JSON: "),
    ('{"cmd": "launch"}', "unknown command 'launch'"),
    ('{"cmd": "set", "settings": {"speed": 0}}', "speed must be a number of steps per second"),
    ('{"cmd": "graph", "point": 99999}', "point must be the id of a point, got 99999"),
])
def test_a_refused_command_is_a_message_and_the_worker_keeps_answering(text, message):
    worker = small()
    (error,) = [json.loads(t) for t in worker.receive(text)]
    assert error["type"] == "error" and error["message"].startswith(message)
    (frame,) = talk(worker, {"cmd": "step"})
    assert frame["steps"] == 1


def test_a_python_exception_is_shown_and_the_worker_keeps_answering(monkeypatch):
    worker = small()

    def broken(msg):
        raise TypeError("injected failure")

    monkeypatch.setattr(worker.runner.session, "command", broken)
    (error,) = talk(worker, {"cmd": "play"})
    assert error == {"type": "error", "message": "internal error: TypeError: injected failure"}
    monkeypatch.undo()
    (frame,) = talk(worker, {"cmd": "step"})
    assert frame["type"] == "frame" and frame["steps"] == 1


def test_a_failure_while_training_pauses_the_run_with_a_message(monkeypatch):
    worker = small()
    talk(worker, {"cmd": "play"})

    def broken():
        raise ZeroDivisionError("injected failure")

    monkeypatch.setattr(worker.runner.session, "step", broken)
    (frame,) = [json.loads(t) for t in worker.tick()]
    assert not frame["running"] and frame["message"] == (
        "Training paused at step 0 by an internal error (ZeroDivisionError: injected "
        "failure); press play to go on.")
    assert worker.wait() is None


def test_an_example_graph_is_the_explorers_data_laid_out_by_the_given_layout():
    calls = []

    def layout(dot: str) -> str:  # what viz-js does in the page, here by the dot program
        calls.append(dot)
        return subprocess.run(["dot", "-Tplain"], input=dot, capture_output=True, text=True,
                              check=True, timeout=60).stdout

    worker = Worker(layout, Session(Settings(points=20, hidden=(2,))))
    point = worker.runner.session.points[3]
    (reply,) = talk(worker, {"cmd": "graph", "point": point.id})
    assert reply["type"] == "graph" and reply["point"] == point.id and calls
    assert f"#{point.id}" in reply["title"]
    payload = reply["payload"]
    names = {node["n"] for node in payload["nodes"]}
    assert {"loss", "L1.N2.w1", "L2.N1.b"} <= names
    loss = payload["nodes"][payload["root"]]
    assert loss["n"] == "loss"


def test_the_driver_imports_without_tornado():
    """The static site has no tornado: the worker's driver must not need it."""
    code = ("import sys; sys.modules['tornado'] = None\n"
            "from apps.playground.browser import Worker\n"
            "import apps.playground\n"
            "print(len(Worker().start()))\n"
            "try:\n    apps.playground.Playground\nexcept ImportError:\n    print('no server')\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "no", "server"]
