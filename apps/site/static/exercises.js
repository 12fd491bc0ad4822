// The exercises page: an editor for the learner's Value, and the checker's report. Python runs
// in exercises-worker.js; this page only shows what it sends. All text from the checker or the
// learner goes into the page through textContent, never parsed as HTML; the one picture (the
// learner's graph, SVG from Graphviz) is parsed as SVG and its scripts and links dropped.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const STORE = 'autograd-exercises-code';
  const QUIET = 20000;   // ms a graph may run before the page stops the worker

  const STARTS = {
    skeleton: `class Value:
    """A number that remembers how it was made."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self._backward = lambda: None

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    # Next: __radd__, __rmul__, __neg__, __sub__, __rsub__, __pow__, __truediv__,
    # __rtruediv__, exp, tanh, relu, sigmoid, log.

    def backward(self):
        # Users before what they use: a topological order, built without recursion.
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._prev)
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
`,
  };
  STARTS.overwrites = STARTS.skeleton.replace(
    'self.grad += out.grad\n            other.grad += out.grad',
    'self.grad = out.grad\n            other.grad = out.grad');
  STARTS.recursive = STARTS.skeleton.replace(
    /        order, seen, stack = [^]*?node\._backward\(\)\n/,
    `        order, seen = [], set()

        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for p in node._prev:
                    visit(p)
                order.append(node)
        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
`);

  // -- the editor: CodeMirror where it loaded, the plain textarea otherwise --------------------
  const area = $('code');
  area.value = localStorage.getItem(STORE) || STARTS.skeleton;
  const editor = window.CodeMirror ? window.CodeMirror.fromTextArea(area, {
    mode: 'python', lineNumbers: true, indentUnit: 4, tabSize: 4, viewportMargin: Infinity,
    extraKeys: { Tab: (cm) => cm.replaceSelection('    '), 'Ctrl-Enter': () => runCheck(),
      'Cmd-Enter': () => runCheck() },
  }) : null;
  const code = () => (editor ? editor.getValue() : area.value);
  const setCode = (text) => { if (editor) editor.setValue(text); else area.value = text; save(); };
  let saveTimer = 0;
  function save() {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => {
      try { localStorage.setItem(STORE, code()); $('saved').textContent = 'saved in this browser'; }
      catch (e) { $('saved').textContent = 'not saved: ' + e.message; }
    }, 300);
  }
  if (editor) editor.on('change', save); else area.addEventListener('input', save);
  $('start').addEventListener('change', (ev) => {
    const text = STARTS[ev.target.value];
    if (text && (code().trim() === '' || window.confirm('Replace your code with this start?'))) setCode(text);
    ev.target.value = '';
  });

  // -- the worker ------------------------------------------------------------------------------
  let worker = null, names = [], results = [], running = false, watchdog = 0, ready = false;

  function startWorker() {
    ready = false;
    $('check').disabled = true;
    $('loading').hidden = false;
    worker = new Worker('exercises-worker.js', { type: 'module' });
    worker.onmessage = (ev) => receive(ev.data);
    worker.onerror = (ev) => { ev.preventDefault(); failed('the checker stopped: ' + (ev.message || 'an error')); };
    worker.postMessage({ cmd: 'start' });
  }

  function stopWorker(why) {
    clearTimeout(watchdog);
    if (worker) worker.terminate();
    worker = null;
    if (running) {
      running = false;
      const k = results.length;
      if (k < names.length) {
        results.push({ graph: names[k], status: 'fail', reason: why });
        for (let j = k + 1; j < names.length; j++) results.push({ graph: names[j], status: 'not run', reason: 'not run: an earlier graph was stopped' });
      }
      showGraphs();
      summary(`FAILED: ${names[k] || 'the check'}: ${why}`, 'fail');
      showFailure({ graph: names[k] || '', about: '', reason: why, error: why, hint:
        'A loop that never ends, or a graph far too slow: look at backward() and the ops this graph uses.',
      traceback: [], header: [], rows: [], entry: null, timed_out: true });
    }
    $('stop').disabled = true;
    startWorker();
  }

  function arm() {
    clearTimeout(watchdog);
    const k = results.length;
    watchdog = setTimeout(() => stopWorker(`stopped after ${QUIET / 1000} s on "${names[k] || '?'}": your code did not finish`), QUIET);
  }

  function receive(m) {
    if (m.type === 'progress') {
      $('loading-what').textContent = m.what;
      $('loading-bar').value = m.total ? m.done / m.total : 0;
    } else if (m.type === 'graphs') {
      names = m.names; ready = true;
      $('loading').hidden = true;
      $('check').disabled = false;
    } else if (m.type === 'result') {
      results.push(m.result);
      showGraphs();
      summary(`checking… ${results.length} of ${names.length} graphs`, '');
      arm();
    } else if (m.type === 'done') {
      clearTimeout(watchdog);
      running = false;
      $('stop').disabled = true;
      $('check').disabled = false;
      done(m.answer, m.svg);
    } else if (m.type === 'error') {
      failed(m.message);
    }
  }

  function failed(message) {
    clearTimeout(watchdog);
    running = false;
    $('stop').disabled = true;
    $('check').disabled = !ready;
    $('loading').hidden = true;
    summary('⚠ ' + message, 'fail');
  }

  function runCheck() {
    if (!worker || !ready || running) return;
    running = true;
    results = [];
    showGraphs();
    $('failure').hidden = true; $('drawing').hidden = true;
    $('check').disabled = true; $('stop').disabled = false;
    summary('checking…', '');
    arm();
    worker.postMessage({ cmd: 'check', code: code() });
  }
  $('check').addEventListener('click', runCheck);
  $('stop').addEventListener('click', () => stopWorker('stopped by you'));

  // -- the report ------------------------------------------------------------------------------
  function summary(text, kind) {
    const s = $('summary');
    s.textContent = text;
    s.className = 'ex-summary' + (kind ? ' ' + kind : '');
  }

  const MARK = { pass: '✓', fail: '✗', skip: '–', 'not run': '·' };
  function showGraphs() {
    const list = $('graphs');
    list.replaceChildren();
    names.forEach((name, k) => {
      const r = results[k], li = document.createElement('li');
      li.className = r ? r.status.replace(' ', '-') : 'waiting';
      li.textContent = (r ? MARK[r.status] || '?' : '…') + ' ' + name + (r && r.reason ? ' — ' + r.reason : '');
      list.appendChild(li);
    });
  }

  function done(answer, svg) {
    if (answer.problem) {
      summary(answer.problem, 'fail');
      showFailure({ graph: '', about: '', reason: '', error: '', hint: '', traceback: answer.lines || [],
        header: [], rows: [], entry: null });
      return;
    }
    summary(answer.summary, answer.passed ? 'pass' : 'fail');
    if (answer.failure) showFailure(answer.failure);
    if (svg) showDrawing(svg, answer.drawn);
  }

  function el(tag, text, cls) {
    const x = document.createElement(tag);
    if (text !== undefined) x.textContent = text;
    if (cls) x.className = cls;
    return x;
  }

  function showFailure(f) {
    const box = $('failure');
    box.replaceChildren();
    if (f.graph) box.appendChild(el('h2', 'First failure: ' + f.graph));
    if (f.about) box.appendChild(el('p', f.about, 'ex-about'));
    if (f.error) box.appendChild(el('p', f.error, 'ex-error'));
    if (f.hint) box.appendChild(el('p', f.hint, 'ex-hint'));
    if (f.traceback && f.traceback.length) {
      box.appendChild(el('p', 'Your code, innermost call last:'));
      box.appendChild(el('pre', f.traceback.join('\n'), 'ex-trace'));
    }
    if (f.rows && f.rows.length) {
      const t = el('table', undefined, 'ex-table'), head = el('tr');
      f.header.forEach((h) => head.appendChild(el('th', h)));
      t.appendChild(head);
      f.rows.forEach((row) => {
        const tr = el('tr');
        row.forEach((c, j) => tr.appendChild(el('td', c, j === 4 && /probably wrong|uncomfortable/.test(c) ? 'bad' : '')));
        t.appendChild(tr);
      });
      box.appendChild(t);
    }
    if (f.entry) {
      const p = el('p', undefined, 'ex-entry');
      p.appendChild(el('b', 'Where the error enters: '));
      p.appendChild(el('code', f.entry.code));
      box.appendChild(p);
      box.appendChild(el('p', f.entry.message));
    }
    box.hidden = false;
  }

  function showDrawing(svgText, graph) {
    const doc = new DOMParser().parseFromString(svgText, 'image/svg+xml');
    const svg = doc.documentElement;
    if (!svg || svg.nodeName !== 'svg') return;
    svg.querySelectorAll('script, foreignObject, a').forEach((x) => x.replaceWith(...x.childNodes));
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'your graph for ' + graph + ', the wrong gradients marked');
    $('drawing-caption').textContent = 'Your graph for ' + graph +
      ': each node shows your gradient beside this engine\'s; the differing ones are marked, and the path to the node where the error enters is highlighted.';
    $('drawing-svg').replaceChildren(document.importNode(svg, true));
    $('drawing').hidden = false;
  }

  startWorker();
})();
