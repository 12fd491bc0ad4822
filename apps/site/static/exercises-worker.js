// exercises-worker.js: the checker in a module worker. The page sends {cmd: "check", code};
// the worker answers {type: "graphs", names} once, {type: "result", result} per graph as the
// checker goes, then {type: "done", answer, svg}: the report and the learner's graph marked
// where the error enters, laid out by Graphviz compiled to WebAssembly. A Python exception is
// sent as {type: "error", message} and the worker goes on answering. Learner code that never
// ends cannot be interrupted here: the page stops this worker and starts another.
import './boot.js';

const site = (path) => new URL(path, import.meta.url).href;
let python = null, viz = null, checker = null;

async function start() {
  const pyodide = await self.startPython((p) => postMessage({ type: 'progress', ...p }));
  const manifest = await (await fetch(site('site.json'))).json();
  // The drawing is built with the graphviz package (pure Python: it writes DOT, and here
  // viz-js lays the DOT out instead of the dot program).
  const purelib = pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
  for (const wheel of manifest.extras || []) {
    const r = await fetch(site(wheel));
    if (!r.ok) throw new Error(`${wheel}: HTTP ${r.status}`);
    pyodide.unpackArchive(new Uint8Array(await r.arrayBuffer()), 'wheel', { extractDir: purelib });
  }
  const Viz = await import(site('viz/viz.js'));
  viz = await Viz.instance();
  pyodide.runPython("import importlib, os; importlib.invalidate_caches(); os.makedirs('/home/pyodide/exercises', exist_ok=True)");
  checker = pyodide.pyimport('apps.site.exercises');
  postMessage({ type: 'graphs', names: checker.graph_names().toJs() });
  return pyodide;
}

function svgOf(dot) {
  if (!dot) return '';
  const r = viz.render(dot, { format: 'svg' });
  return r.status === 'success' ? r.output : '';
}

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  try {
    if (!python) python = start();
    await python;
    if (msg.cmd !== 'check') return;
    const progress = (text) => postMessage({ type: 'result', result: JSON.parse(text) });
    const answer = JSON.parse(checker.run(String(msg.code), '/home/pyodide/exercises', progress));
    postMessage({ type: 'done', answer, svg: svgOf(answer.dot) });
  } catch (err) {
    const text = String(err && err.message ? err.message : err);
    // A Python exception's message ends with its last line; that line is what a learner needs.
    const lines = text.trim().split('\n');
    postMessage({ type: 'error', message: lines[lines.length - 1].slice(0, 500) });
  }
};
