// Runs Python code in Pyodide under Node with the project's wheel and the worker's own
// js-replay.js, for tests/apps/test_playground_js.py:
//
//   node tests/apps/pyodide_replays.mjs WHEEL CODE.py
//
// Pyodide comes from the repository's node_modules; nothing is fetched. The code sees
// `load_replay` (js-replay.js's loadReplay) as a global and prints its answer as JSON.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const PYODIDE = path.join(ROOT, "node_modules", "pyodide");
const [wheel, code] = process.argv.slice(2);
globalThis.fetch = async (url) => { throw new Error(`no network here (asked for ${url})`); };

const { loadPyodide } = await import(pathToFileURL(path.join(PYODIDE, "pyodide.mjs")).href);
const { loadReplay } = await import(
  pathToFileURL(path.join(ROOT, "apps", "playground", "static", "js-replay.js")).href);
const pyodide = await loadPyodide({ indexURL: PYODIDE + path.sep, packageCacheDir: PYODIDE + path.sep });
pyodide.setStdout({ write: (b) => { process.stdout.write(b); return b.length; } });
const sitePackages = pyodide.runPython("import site; site.getsitepackages()[0]");
pyodide.unpackArchive(new Uint8Array(fs.readFileSync(wheel)), "wheel", { extractDir: sitePackages });
pyodide.globals.set("load_replay", loadReplay);
try {
  pyodide.runPython(fs.readFileSync(code, "utf8"));
} catch (err) {
  // Only the Python traceback: Node would print a line of Pyodide's minified source too.
  console.error(String((err && err.message) || err).split("\n").slice(-25).join("\n"));
  process.exit(1);
}
