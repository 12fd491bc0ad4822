// The lab: an expression and its values go to Python in a worker; the value, every gradient and
// the explorer on its graph come back. The URL's hash holds the expression and the values
// (#expr=tanh(x*w+b)&x=2&w=-3&b=1), so a link opens on that graph and a reload restores it.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const WORKED = '0.5*(0.01 - sigmoid(w5*sigmoid(w1*i1 + w2*i2 + b1) + w6*sigmoid(w3*i1 + w4*i2 + b1) + b2))**2'
    + ' + 0.5*(0.99 - sigmoid(w7*sigmoid(w1*i1 + w2*i2 + b1) + w8*sigmoid(w3*i1 + w4*i2 + b1) + b2))**2';
  const PRESETS = [
    { name: 'one neuron: tanh(x·w + b)', expr: 'tanh(x*w + b)', values: { x: '2', w: '-3', b: '1' } },
    { name: 'two paths that add: a·b + a', expr: 'a*b + a', values: { a: '3', b: '-2' } },
    { name: 'the worked example (2-2-2 network, error E)', expr: WORKED,
      values: { i1: '0.05', i2: '0.1', w1: '0.15', w2: '0.2', w3: '0.25', w4: '0.3', b1: '0.35',
        w5: '0.4', w6: '0.45', w7: '0.5', w8: '0.55', b2: '0.6' } },
    { name: 'a vanishing gradient: five sigmoids', expr: 'sigmoid(sigmoid(sigmoid(sigmoid(sigmoid(x*w)))))',
      values: { x: '1', w: '4' } },
  ];
  const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/;
  const MAX_HASH = 4000;
  const STOP_AFTER_MS = 400;

  let worker = null, ready = false, nextId = 1, pending = null, queued = null;
  let explorer = null, stopTimer = 0, typingTimer = 0;
  let linkProblem = '';  // what was wrong with the link, shown until the user types
  const buffer = self.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;

  // ------------------------------------------------------------------------ messages on the page
  function showError(text) {
    const p = $('error');
    p.hidden = !text;
    p.textContent = text ? String(text).split('\n')[0].slice(0, 400) : '';
  }

  function progress(p) {
    $('loading').hidden = false;
    $('progress').max = p.total;
    $('progress').value = p.done;
    $('progress-text').textContent = `${p.what}… (${p.done}/${p.total})`;
  }

  // ---------------------------------------------------------------------------------- the worker
  function startWorker() {
    ready = false;
    progress({ what: 'loading Python', done: 0, total: 3 });
    worker = new Worker('lab-worker.js', { type: 'module' });
    worker.onmessage = (ev) => receive(ev.data || {});
    worker.onerror = (ev) => {
      ev.preventDefault();
      showError(`The Python worker failed to start: ${ev.message || 'see the browser console'}`);
    };
    if (buffer) worker.postMessage({ type: 'interrupt', buffer });
  }

  function restartWorker() {
    worker.terminate();
    pending = null;
    startWorker();
  }

  function receive(msg) {
    if (msg.type === 'progress') {
      progress(msg);
    } else if (msg.type === 'ready') {
      ready = true;
      $('loading').hidden = true;
      document.body.setAttribute('data-python', 'ready');
      if (queued) send(queued);
    } else if (msg.type === 'failed') {
      showError(`Python could not start: ${msg.message}`);
    } else if (pending && msg.id === pending.id) {
      const asked = pending;
      finish();
      if (msg.type === 'answer') show(JSON.parse(msg.json), asked);
      else {
        showError(msg.message.startsWith('KeyboardInterrupt') ? 'Stopped.' : `Python: ${msg.message}`);
        if (msg.fatal) restartWorker();
      }
      if (queued) send(queued);
    }
  }

  function finish() {
    pending = null;
    clearTimeout(stopTimer);
    $('stop').hidden = true;
    document.body.removeAttribute('data-busy');
  }

  // Ask for one answer; while one is being computed, only the newest request waits.
  function ask(expr, values) {
    queued = { expr, values };
    if (!pending && ready) send(queued);
  }

  function send(request) {
    queued = null;
    pending = { id: nextId++, sent: performance.now(), ...request };
    document.body.setAttribute('data-busy', '1');
    stopTimer = setTimeout(() => { $('stop').hidden = false; }, STOP_AFTER_MS);
    if (buffer) buffer[0] = 0;
    worker.postMessage({ type: 'compute', id: pending.id, expr: request.expr, values: request.values });
  }

  // Python checks the interrupt buffer between its own steps; time spent inside JavaScript (the
  // Graphviz layout) does not see it, so a stop that has not landed within a second restarts.
  function stop() {
    if (!pending) return;
    const id = pending.id;
    if (buffer) {
      buffer[0] = 2;  // SIGINT: Python raises KeyboardInterrupt
      setTimeout(() => { if (pending && pending.id === id) restartStopped(); }, 1000);
      return;
    }
    restartStopped();
  }

  function restartStopped() {
    finish();
    queued = null;
    restartWorker();
    showError('Stopped: Python restarts.');
  }

  // ----------------------------------------------------------------------------------- the answer
  function show(a, asked) {
    if (!a.ok) { showError(a.error); document.body.setAttribute('data-stale', '1'); return; }
    document.body.removeAttribute('data-stale');
    showError(linkProblem);
    // The variables in the order the user gave them (a preset's, a link's), new ones after.
    const given = Object.keys(asked.values);
    const rank = (name) => (given.includes(name) ? given.indexOf(name) : given.length);
    const pairs = [...a.values].sort((p, q) => rank(p[0]) - rank(q[0]));
    writeHash(a.expr, Object.fromEntries(pairs));
    if (document.activeElement !== $('expr') && $('expr').value !== a.expr) $('expr').value = a.expr;
    valueInputs(pairs, asked.values);
    const r = $('result');
    r.replaceChildren();
    const out = item(r, 'out', `${a.name} = ${a.value}`);
    out.setAttribute('data-label', a.name);
    for (const [name, g] of [...a.grads].sort((p, q) => rank(p[0]) - rank(q[0]))) {
      const b = item(r, 'grad', `∂${a.name}/∂${name} = ${g}`, 'button');
      b.type = 'button';
      b.setAttribute('data-label', name);
      b.title = `how ∂${a.name}/∂${name} comes about`;
      b.addEventListener('click', () => selectValue(name));
    }
    if (explorer) explorer.destroy();
    explorer = window.AutogradExplorer.start(a.payload);
    // For the speed script (benchmarks/bench_site.py): when the first answer came (ms since the
    // navigation started) and how long the last one took, asking to drawn.
    const now = performance.now();
    if (!document.body.hasAttribute('data-first-answer-ms')) document.body.setAttribute('data-first-answer-ms', String(Math.round(now)));
    document.body.setAttribute('data-answer-ms', String(Math.round(now - asked.sent)));
    document.body.setAttribute('data-answered', String(Number(document.body.getAttribute('data-answered') || 0) + 1));
  }

  function item(parent, cls, text, tag) {
    const x = document.createElement(tag || 'span');
    x.className = cls;
    x.textContent = text;
    parent.appendChild(x);
    return x;
  }

  // A click on a gradient opens that variable's derivation, as a click on its box does.
  function selectValue(name) {
    for (const g of document.querySelectorAll('#graph g.value')) {
      if (g.getAttribute('data-label') === name) {
        g.dispatchEvent(new MouseEvent('click', { bubbles: true }));
        return;
      }
    }
  }

  // One input per variable, kept while the variables stay the same (so typing is not lost).
  function valueInputs(pairs, typed) {
    const box = $('values');
    const have = [...box.querySelectorAll('input')].map((i) => i.name);
    if (have.join(',') === pairs.map((p) => p[0]).join(',')) return;
    box.replaceChildren();
    for (const [name, value] of pairs) {
      const label = document.createElement('label');
      label.className = 'value';
      label.setAttribute('data-label', name);
      const span = document.createElement('span');
      span.textContent = name + ' =';
      const input = document.createElement('input');
      input.name = name;
      input.value = typed && name in typed ? typed[name] : value;
      input.inputMode = 'decimal';
      input.size = 7;
      input.setAttribute('aria-label', `value of ${name}`);
      input.addEventListener('input', later);
      label.append(span, input);
      box.appendChild(label);
    }
  }

  function currentValues() {
    const out = {};
    for (const i of $('values').querySelectorAll('input')) out[i.name] = i.value.trim();
    return out;
  }

  // ------------------------------------------------------------------------------------ the URL
  // The hash is read by hand: URLSearchParams would read a "+" as a space, and tanh(x*w+b)
  // is the link a person types.
  function readHash() {
    const raw = location.hash.replace(/^#/, '');
    if (!raw) return null;
    if (raw.length > MAX_HASH) throw new Error(`the link's #… part is longer than ${MAX_HASH} characters`);
    let expr = null;
    const values = {};
    for (const part of raw.split('&')) {
      if (!part) continue;
      const cut = part.indexOf('=');
      let key, value;
      try {
        key = decodeURIComponent(cut < 0 ? part : part.slice(0, cut));
        value = cut < 0 ? '' : decodeURIComponent(part.slice(cut + 1));
      } catch {
        throw new Error("the link's #… part has a broken %-escape");
      }
      if (key === 'expr') { expr = value; continue; }
      if (!NAME.test(key)) throw new Error(`the link names a variable "${key.slice(0, 40)}": a name is letters, digits and _`);
      values[key] = value.slice(0, 60);
    }
    if (expr === null) throw new Error('the link has no expression: expected #expr=…&x=2');
    return { expr, values };
  }

  // Escaped only where needed, so a link stays readable: #expr=tanh(x*w+b)&x=2.
  const part = (s) => encodeURIComponent(s).replace(/%(2B|2F|5E|2C|3A)/g, (m) => decodeURIComponent(m));

  function writeHash(expr, values) {
    const hash = '#' + [['expr', expr], ...Object.entries(values)]
      .map(([k, v]) => `${part(k)}=${part(v)}`).join('&');
    if (location.hash !== hash) history.replaceState(null, '', hash);
  }

  function fromHash() {
    let wanted = null;
    try {
      wanted = readHash();
      linkProblem = '';
    } catch (err) {
      linkProblem = `${err.message}; showing an example instead.`;
      showError(linkProblem);
    }
    load(wanted || PRESETS[0]);
  }

  function load(p) {
    $('expr').value = p.expr;
    $('values').replaceChildren();
    valueInputs(Object.entries(p.values), null);
    ask(p.expr, { ...p.values });
  }

  function later() {
    linkProblem = '';
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => ask($('expr').value, currentValues()), 350);
  }

  // ---------------------------------------------------------------------------------- start
  for (const [k, p] of PRESETS.entries()) {
    const o = document.createElement('option');
    o.value = String(k);
    o.textContent = p.name;
    $('preset').appendChild(o);
  }
  $('preset').addEventListener('change', () => {
    const p = PRESETS[Number($('preset').value)];
    $('preset').value = '';
    if (p) { linkProblem = ''; showError(''); load(p); }
  });
  $('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    linkProblem = '';
    clearTimeout(typingTimer);
    ask($('expr').value, currentValues());
  });
  $('expr').addEventListener('input', later);
  $('stop').addEventListener('click', stop);
  window.addEventListener('hashchange', fromHash);
  startWorker();
  fromHash();
})();
