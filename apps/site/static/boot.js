// boot.js: Python for a worker of the site. Pyodide runs only in a module worker, so:
//
//   const worker = new Worker("my-worker.js", {type: "module"});   // in the page
//   import "./boot.js";                                             // first line of my-worker.js
//   const pyodide = await self.startPython(onProgress);
//
// gives Pyodide with the project's own wheel unpacked into site-packages, and Graphviz
// (viz-js) loaded in the worker with self.vizPlain(dot) -> graphviz "plain" text, synchronous,
// so Python can call it as js.vizPlain. Every file comes from the site itself: URLs are resolved
// against this file's own location, so the site works at "/" and under a sub-path, and
// Pyodide's indexURL and packageBaseUrl are the site's pyodide/ folder, so nothing falls back to
// a CDN. onProgress({what, done, total}) says what is loading: done of total parts finished.
// The wheel's name comes from site.json, which the build writes.

const site = (path) => new URL(path, import.meta.url).href;

async function fetchOk(path) {
  const r = await fetch(site(path));
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r;
}

// Graphviz compiled to WebAssembly: one instance for the worker's life.
async function loadViz() {
  const Viz = await import(site('viz/viz.js'));
  const viz = await Viz.instance();
  self.vizPlain = function vizPlain(dot) {
    const r = viz.render(String(dot), { format: 'plain' });
    if (r.status !== 'success') {
      const why = (r.errors || []).map((e) => e.message.trim()).join('; ');
      throw new Error(`graphviz: ${why || 'layout failed'}`);
    }
    return r.output;
  };
}

async function loadPython(manifest) {
  const { loadPyodide } = await import(site('pyodide/pyodide.mjs'));
  const folder = site('pyodide/');
  const [pyodide, wheel] = await Promise.all([
    loadPyodide({ indexURL: folder, packageBaseUrl: folder,
      lockFileURL: folder + 'pyodide-lock.json' }),
    fetchOk(manifest.wheel).then((r) => r.arrayBuffer())]);
  const purelib = pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
  pyodide.unpackArchive(new Uint8Array(wheel), 'wheel', { extractDir: purelib });
  pyodide.runPython('import importlib; importlib.invalidate_caches()');
  return pyodide;
}

let started = null;

export function startPython(onProgress) {
  if (started) return started;
  const tell = typeof onProgress === 'function' ? onProgress : () => {};
  const parts = { Python: false, Graphviz: false };
  const total = Object.keys(parts).length + 1;
  const report = () => {
    const waiting = Object.keys(parts).filter((k) => !parts[k]);
    tell({ what: waiting.length ? `loading ${waiting.join(' and ')}` : 'starting the engine',
      done: total - 1 - waiting.length, total });
  };
  const finish = (name) => (value) => { parts[name] = true; report(); return value; };
  started = (async () => {
    tell({ what: 'loading the site manifest', done: 0, total });
    const manifest = await (await fetchOk('site.json')).json();
    report();
    const [pyodide] = await Promise.all([loadPython(manifest).then(finish('Python')),
      loadViz().then(finish('Graphviz'))]);
    pyodide.runPython('import autograd');
    tell({ what: 'ready', done: total, total });
    return pyodide;
  })();
  started.catch(() => { started = null; });
  return started;
}

self.startPython = startPython;
