// explorer.html: shows a graph that the page which opened it sends.
//
// On load it posts {type: "ready"} to its opener; the opener (same origin only) answers with
// {type: "explorer", payload, title}, and the explorer starts on that payload. A later message
// replaces the graph.
'use strict';

(function () {
  let shown = null;
  const note = document.getElementById('note');

  function say(text) {
    note.hidden = false;
    note.textContent = text;
  }

  window.addEventListener('message', (ev) => {
    if (ev.origin !== location.origin || ev.source !== window.opener) return;
    const msg = ev.data;
    if (!msg || msg.type !== 'explorer' || !msg.payload) return;
    if (shown) shown.destroy();
    shown = null;
    note.hidden = true;
    try {
      shown = window.AutogradExplorer.start(msg.payload);
    } catch (err) {
      say(`This graph could not be shown: ${err && err.message ? err.message : err}`);
      return;
    }
    if (typeof msg.title === 'string' && msg.title) document.title = msg.title.slice(0, 200);
  });

  if (window.opener) {
    window.opener.postMessage({ type: 'ready' }, location.origin);
  } else {
    say('This page shows a graph sent by the lab or the playground: open it from there.');
  }
})();
