"""Run generated JavaScript replays under Node; numbers cross as hexadecimal bit patterns."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from autograd.engine import topological_order

NODE = shutil.which("node")

require_node = pytest.mark.skipif(NODE is None, reason="node is not installed")

# PRELUDE reads the JSON job from the file named by the script's argument, and has the
# conversions: every number crosses as its IEEE double's 16 hexadecimal digits (little-endian).
# RUNNER's job is {programs: [{source, cases: [{leaves, seed}], steps?, lr?, params?}]}; it writes
# per case {ef, eb, V, G}, or after `steps` SGD steps on V[params] the final V.
PRELUDE = r"""
const fs = require('fs');
const buf = new DataView(new ArrayBuffer(8));
function fromHex(s) {
  for (let i = 0; i < 8; i++) buf.setUint8(i, parseInt(s.substr(2 * i, 2), 16));
  return buf.getFloat64(0, true);
}
function toHex(x) {
  buf.setFloat64(0, x, true);
  let s = '';
  for (let i = 0; i < 8; i++) s += buf.getUint8(i).toString(16).padStart(2, '0');
  return s;
}
const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
"""

RUNNER = PRELUDE + r"""
const out = [];
for (const p of job.programs) {
  const r = new Function(p.source)();
  const V = new Float64Array(r.size), G = new Float64Array(r.size);
  const res = [];
  for (const c of p.cases) {
    c.leaves.forEach((h, k) => { V[k] = fromHex(h); });
    if (p.steps) {
      let flags = 0;
      for (let s = 0; s < p.steps; s++) {
        flags |= r.forward(V);
        flags |= r.backward(V, G, 1.0);
        for (const k of p.params) V[k] -= p.lr * G[k];
      }
      res.push({flags, V: Array.from(V, toHex)});
      continue;
    }
    const ef = r.forward(V);
    const eb = r.backward(V, G, fromHex(c.seed));
    res.push({ef, eb, V: Array.from(V, toHex), G: Array.from(G, toHex)});
  }
  out.push(res);
}
process.stdout.write(JSON.stringify(out));
"""


def hexf(x: float) -> str:
    return struct.pack("<d", float(x)).hex()


def unhex(s: str) -> float:
    return struct.unpack("<d", bytes.fromhex(s))[0]


def bits(x: float) -> str:
    """A float's bit pattern, with every NaN the same (NaN payloads are not compared)."""
    return "nan" if x != x else hexf(x)


def run_script(script: str, job: dict):
    """Run a Node script on a JSON job (the file named by its argument); its printed JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        path, data = Path(tmp) / "run.js", Path(tmp) / "job.json"
        path.write_text(script)
        data.write_text(json.dumps(job))
        done = subprocess.run([NODE, str(path), str(data)], capture_output=True, text=True,
                              timeout=600, check=True)
    return json.loads(done.stdout)


def run(programs: list[dict]) -> list[list[dict]]:
    """Run each program's cases in one Node process; values come back as floats."""
    results = run_script(RUNNER, {"programs": programs})
    for per_program in results:
        for case in per_program:
            case["V"] = [unhex(h) for h in case["V"]]
            if "G" in case:
                case["G"] = [unhex(h) for h in case["G"]]
    return results


def slots(root) -> list:
    """The nodes in the order of the JavaScript replay's V: leaves first, then the op nodes."""
    order = topological_order(root)
    return [n for n in order if n.operation is None] + [n for n in order if n.operation is not None]
