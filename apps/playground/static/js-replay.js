// js-replay.js: the JavaScript replay of a compiled graph, for Python in the same worker.
//
// Python (apps/playground/graphs.py) hands over the source that autograd.compile.javascript
// wrote for one example's graph; loadReplay compiles it with `new Function` once per source
// text (a network shape and loss: a reset with new weights reuses it) and returns
// run(values, X, rows, out, grads, seed). Python passes its numbers as array("d") buffers,
// read and written here in place through Pyodide's getBuffer: no number crosses one at a time.
//   values  the leaves' data, in the order of JavaScript.leaves
//   X       rows × inputs numbers, row after row; out: each row's root value (written)
//   grads   null for map; else the leaves' grads, to which batch adds each row's gradient
// It returns 0, or 1 where Python would have raised: then Python redoes the call itself.

const compiled = new Map();  // source text -> {forward, backward, map, batch, size}
const KEEP = 8;              // sources kept: the shapes a learner goes back and forth between

function replayOf(source) {
  let r = compiled.get(source);
  if (!r) {
    r = new Function(source)();
    if (compiled.size >= KEEP) compiled.delete(compiled.keys().next().value);
    compiled.set(source, r);
  }
  return r;
}

export function loadReplay(source) {
  const r = replayOf(String(source));
  const V = new Float64Array(r.size), G = new Float64Array(r.size);
  return function run(values, X, rows, out, grads, seed) {
    const held = [];
    const view = (buffer) => { const b = buffer.getBuffer("f64"); held.push(b); return b.data; };
    try {
      V.set(view(values));
      const x = view(X), y = view(out);
      return grads == null ? r.map(V, x, rows, y) : r.batch(V, G, x, rows, y, seed, view(grads));
    } finally {
      for (const b of held) b.release();
    }
  };
}
