// explorer.html: shows a graph that the page which opened it sends, or one the site holds.
//
// On load it posts {type: "ready"} to its opener; the opener (same origin only) answers with
// {type: "explorer", payload, title}, and the explorer starts on that payload. A later message
// replaces the graph. explorer.html#data=notebooks/NAME.json shows a graph saved in the site
// (the notebook pages embed theirs so).
'use strict';

(function () {
  let shown = null;
  const note = document.getElementById('note');

  function show(payload, title) {
    if (shown) shown.destroy();
    shown = null;
    note.hidden = true;
    try {
      shown = window.AutogradExplorer.start(payload);
    } catch (err) {
      say(`This graph could not be shown: ${err && err.message ? err.message : err}`);
      return;
    }
    if (typeof title === 'string' && title) document.title = title.slice(0, 200);
  }

  function say(text) {
    note.hidden = false;
    note.textContent = text;
  }

  window.addEventListener('message', (ev) => {
    if (ev.origin !== location.origin || ev.source !== window.opener) return;
    const msg = ev.data;
    if (!msg || msg.type !== 'explorer' || !msg.payload) return;
    show(msg.payload, msg.title);
  });

  // Only a file of the site's notebooks/ folder, by a plain name.
  const saved = /^#data=(notebooks\/[A-Za-z0-9_.-]+\.json)$/.exec(location.hash);
  if (saved) {
    fetch(new URL(saved[1], location.href))
      .then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); })
      .then((payload) => show(payload, 'Explorer'))
      .catch((err) => say(`The graph ${saved[1]} could not be loaded: ${err.message}`));
  } else if (window.opener) {
    window.opener.postMessage({ type: 'ready' }, location.origin);
  } else {
    say('This page shows a graph sent by the lab or the playground: open it from there.');
  }
})();
