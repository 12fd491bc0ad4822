// The test suite under Pyodide (CPython compiled to WebAssembly) in Node: `make test-pyodide`.
//
//   node tests/pyodide/run.mjs [pytest arguments]     (default: -q -m "not slow" tests)
//
// Pyodide comes from the repository's node_modules (npm ci), never from a CDN: any attempt to
// reach the network fails the run. The project goes in as its wheel (build/wheels), the test
// tools as the pure wheels in build/pyodide-wheels (tests/pyodide/requirements.txt); both are
// unpacked into site-packages. The checkout is mounted at /project, so pytest runs the real test
// modules and reads the docs they check; the package itself is imported from the wheel only
// (checked before and after the run). The exit status is pytest's.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

// CPython frees a chain of objects recursively; under WebAssembly each level also takes room on
// the JavaScript engine's own stack, which CPython cannot see. Node's default (about 1 MB, as in
// a browser) dies freeing the exercise checker's 5,000-deep chain; 4 MB (of the main thread's
// 8 MB) does not. Graphs tens of thousands deep still overflow it: those tests are marked deep.
const STACK_KB = 4000;
if (!process.execArgv.some((arg) => arg.startsWith("--stack-size"))) {
  const self = fileURLToPath(import.meta.url);
  const run = spawnSync(process.execPath, [`--stack-size=${STACK_KB}`, self, ...process.argv.slice(2)],
                        { stdio: "inherit" });
  process.exit(run.status ?? 1);
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PYODIDE = path.join(ROOT, "node_modules", "pyodide");
const WHEELS = [path.join(ROOT, "build", "wheels"), path.join(ROOT, "build", "pyodide-wheels")];
const PYTEST_ARGS = process.argv.length > 2 ? process.argv.slice(2)
  : ["-q", "-m", "not slow", "tests"];

// No network: Pyodide falls back to a CDN for anything it does not find locally; refuse loudly.
let refused = 0;
function refuse(what) {
  refused += 1;
  const message = `test-pyodide: refused a network request (${what}); nothing may come from the network`;
  console.error(message);
  throw new Error(message);
}
globalThis.fetch = async (url) => refuse(`fetch ${url}`);
for (const mod of [http, https]) {
  mod.request = (url) => refuse(`${mod === http ? "http" : "https"} ${url?.href ?? url?.host ?? url}`);
  mod.get = mod.request;
}
net.connect = net.createConnection = (...args) => refuse(`socket ${JSON.stringify(args[0])}`);

if (!fs.existsSync(path.join(PYODIDE, "pyodide.mjs"))) {
  console.error("test-pyodide: node_modules/pyodide is missing: run `npm ci --ignore-scripts`");
  process.exit(2);
}
const { loadPyodide } = await import(path.join(PYODIDE, "pyodide.mjs"));
const pyodide = await loadPyodide({
  indexURL: PYODIDE + path.sep,
  packageCacheDir: PYODIDE + path.sep,
  env: { HOME: "/home/pyodide" },
});
const out = (stream) => ({ write: (bytes) => { stream.write(bytes); return bytes.length; } });
pyodide.setStdout(out(process.stdout));
pyodide.setStderr(out(process.stderr));

const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
const wheels = WHEELS.flatMap((dir) => fs.existsSync(dir)
  ? fs.readdirSync(dir).filter((f) => f.endsWith(".whl")).map((f) => path.join(dir, f)) : []);
if (!wheels.some((w) => path.basename(w).startsWith("autograd_scalar-"))) {
  console.error("test-pyodide: the project's wheel is missing: run `make test-pyodide`");
  process.exit(2);
}
for (const wheel of wheels) {
  pyodide.unpackArchive(new Uint8Array(fs.readFileSync(wheel)), "wheel", { extractDir: sitePackages });
}

pyodide.FS.mkdirTree("/project");
pyodide.mountNodeFS("/project", ROOT);
pyodide.globals.set("PYTEST_ARGS", pyodide.toPy(PYTEST_ARGS));
pyodide.globals.set("SITE_PACKAGES", sitePackages);

let status;
try {
  status = pyodide.runPython(`
import os, sys

def from_the_wheel():
    """The project's modules imported so far, each from site-packages (never the checkout)."""
    ours = {n: m for n, m in sys.modules.items() if n.split(".")[0] in ("autograd", "nn", "apps")}
    wrong = [n for n, m in ours.items()
             if not (getattr(m, "__file__", None) or SITE_PACKAGES).startswith(SITE_PACKAGES)]
    assert not wrong, f"imported from outside the wheel: {wrong}"
    return len(ours)

# Imported before setup.cfg puts the checkout on sys.path, so the wheel is what runs; nor is the
# working directory (the checkout, below) on the path.
sys.path = [p for p in sys.path if p not in ("", ".")]
import autograd, nn, apps  # noqa: E401
from_the_wheel()
os.chdir("/project")
import pytest
code = int(pytest.main(["-p", "no:cacheprovider", *PYTEST_ARGS]))
print(f"test-pyodide: Python {sys.version.split()[0]} on {sys.platform}, "
      f"{from_the_wheel()} project modules from the wheel")
code
`);
} catch (err) {
  // A fatal WebAssembly error (e.g. the stack overflowing) ends the interpreter, not just a test.
  console.error("test-pyodide: Pyodide died:", err);
  status = 3;
}
if (refused) status = status || 4;
process.exit(status);
