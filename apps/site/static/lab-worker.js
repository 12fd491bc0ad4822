// The lab's worker: Python (boot.js) answers one expression at a time.
//
// In:  {type: "interrupt", buffer} (only when the page is cross-origin isolated),
//      {type: "compute", id, expr, values: {name: "number text"}}.
// Out: {type: "progress", what, done, total}, {type: "ready"}, {type: "failed", message},
//      {type: "answer", id, json} or {type: "error", id, message, fatal}.
import './boot.js';

let answerJson = null;
const ready = self.startPython((p) => postMessage({ type: 'progress', ...p })).then((py) => {
  answerJson = py.pyimport('apps.site.lab').answer_json;
  postMessage({ type: 'ready' });
  return py;
});
ready.catch((err) => postMessage({ type: 'failed', message: oneLine(err) }));

// A Python exception arrives as a JS error whose message is the whole traceback: its last line
// names the exception.
function oneLine(err) {
  const text = String((err && err.message) || err).trim().split('\n');
  return text[text.length - 1].slice(0, 500);
}

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  let py;
  try { py = await ready; } catch { return; }
  if (msg.type === 'interrupt' && msg.buffer) {
    py.setInterruptBuffer(msg.buffer);
  } else if (msg.type === 'compute') {
    try {
      const json = answerJson(String(msg.expr), JSON.stringify(msg.values || {}));
      postMessage({ type: 'answer', id: msg.id, json });
    } catch (err) {
      // A Python exception leaves Python running; anything else (the WebAssembly stack
      // overflowing, say) may have killed it, and the page then starts a new worker.
      const fatal = !(err && err.constructor && err.constructor.name === 'PythonError');
      postMessage({ type: 'error', id: msg.id, message: oneLine(err), fatal });
    }
  }
};
