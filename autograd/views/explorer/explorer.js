// The explorer page: one layout per view (from graphviz), the passes as data applied to it.
// All text from the data goes through textContent or setAttribute, never through markup.
(function () {
  'use strict';

  // start(data) draws one graph's explorer into the page's elements (ids as in page.html) and
  // returns a handle whose destroy() removes its listeners and timers, so a page (the site's
  // lab) can show another graph in the same place. The self-contained page starts on its
  // own from the JSON in #data.
  function start(D) {
    const life = new AbortController(), signal = life.signal;
    const N = D.nodes, E = D.edges;
    const NS = 'http://www.w3.org/2000/svg';
    const $ = (id) => document.getElementById(id);
    const stage = $('stage'), svg = $('graph'), world = $('world');
    const layers = { edges: $('edges'), boxes: $('boxes'), labels: $('labels') };

    // ------------------------------------------------------------------ the graph as data
    const inEdges = N.map(() => []), outEdges = N.map(() => []);
    E.forEach((e, k) => { inEdges[e[1]].push(k); outEdges[e[0]].push(k); });
    const byName = new Map();
    N.forEach((n, i) => { if (n.k !== 'constant' && !byName.has(n.n)) byName.set(n.n, i); });
    const views = new Map(D.views.map((v) => [v.key, v]));
    const passes = { backward: D.backward, forward: D.forward };
    // The backward step at which each op node sends its gradient to its inputs.
    const stepOf = new Array(N.length).fill(-1);
    D.backward.forEach(([node], j) => { stepOf[node] = j; });
    // What each value receives, in the order the backward pass sends it (edge ids).
    const parts = N.map((_, i) => outEdges[i].slice().sort((a, b) =>
      stepOf[E[a][1]] - stepOf[E[b][1]] || a - b));

    // ------------------------------------------------------------------ state of a pass
    let mode = 'backward', step = 0, selected = -1, hovered = -1, timer = null;
    const S = { grad: [], complete: new Uint8Array(N.length), visited: new Uint8Array(N.length),
      computed: new Uint8Array(N.length), current: -1 };

    function compute() {
      S.grad = new Array(N.length).fill(null);
      S.complete.fill(0); S.visited.fill(0); S.computed.fill(0);
      if (mode === 'backward') {
        S.grad[D.root] = N[D.root].g; S.complete[D.root] = 1;
        for (let j = 0; j < step; j++) {
          const [node, completes] = D.backward[j];
          S.visited[node] = 1;
          for (const e of inEdges[node]) if (E[e][5] !== '') S.grad[E[e][0]] = E[e][5];
          for (const c of completes) S.complete[c] = 1;
        }
        S.current = step > 0 ? D.backward[step - 1][0] : D.root;
      } else {
        N.forEach((n, i) => { if (n.k !== 'op') S.computed[i] = 1; });
        for (let j = 0; j < step; j++) S.computed[D.forward[j]] = 1;
        S.current = step > 0 ? D.forward[step - 1] : -1;
      }
    }

    // ------------------------------------------------------------------ views and boxes
    let view = null, boxEls = [], unitIndex = new Map(), edgeEls = new Map();

    // What stands for value i in the open view: itself, a child cluster's box, or a box for
    // the values outside (the same rule the page's Python side laid out).
    function unitKey(i) {
      const c = N[i].c, v = view.key;
      if (v === '' || c === v || c.startsWith(v + '.')) {
        if (c === v) return 'n:' + i;
        const rest = v ? c.slice(v.length + 1) : c;
        return 'c:' + (v ? v + '.' : '') + rest.split('.')[0];
      }
      return 'o:' + (c ? c.split('.')[0] : '');
    }
    function boxOf(i) { const k = unitIndex.get(unitKey(i)); return k === undefined ? -1 : k; }

    function el(tag, attrs, parent) {
      const x = document.createElementNS(NS, tag);
      for (const a in attrs) x.setAttribute(a, attrs[a]);
      if (parent) parent.appendChild(x);
      return x;
    }
    function text(parent, x, y, cls, s, anchor) {
      const t = el('text', { x: x, y: y, class: cls }, parent);
      if (anchor) t.setAttribute('text-anchor', anchor);
      t.textContent = s;
      return t;
    }

    function openView(key) {
      view = views.get(key) || views.get('');
      for (const l of Object.values(layers)) l.replaceChildren();
      boxEls = []; unitIndex = new Map(); edgeEls = new Map();
      view.edges.forEach(([s, t, d]) => {
        edgeEls.set(s + ',' + t, el('path', { d: d || straight(view.boxes[s], view.boxes[t]),
          class: 'edge' }, layers.edges));
      });
      view.boxes.forEach((b, k) => { boxEls.push(drawBox(b, k)); });
      crumbs();
      render();
      fit(false);
    }

    // From the right side of one box to the left side of the other, leaving room for the arrow.
    function straight(a, b) {
      const x0 = a[2] + a[4] / 2, x1 = b[2] - b[4] / 2 - 7;
      return 'M' + x0 + ',' + a[3] + 'L' + x1 + ',' + b[3];
    }

    function drawBox(b, k) {
      const [kind, ref, x, y, w, h, count] = b;
      const g = el('g', { class: kind === 'n' ? 'value' : kind === 'c' ? 'cluster' : 'proxy' },
        layers.boxes);
      const left = x - w / 2, top = y - h / 2;
      el('rect', { class: 'box', x: left, y: top, width: w, height: h, rx: 5 }, g);
      g.box = { x: left, y: top, w: w, h: h };
      if (kind === 'n') {
        const n = N[ref];
        unitIndex.set('n:' + ref, k);
        g.id = 'v' + ref;
        g.setAttribute('data-id', ref);
        g.setAttribute('data-label', n.n);
        el('rect', { class: 'bar', x: left, y: top, width: 5, height: h, rx: 2 }, g);
        text(g, left + 8, top + 18, 'name', n.n);
        if (n.s) text(g, left + w - 6, top + 18, 'sym', n.s, 'end');
        g.dataText = text(g, left + 8, top + 35, 'data', '');
        g.gradText = text(g, left + 8, top + 51, 'grad', '');
        g.node = ref;
      } else if (kind === 'c') {
        unitIndex.set('c:' + ref, k);
        g.setAttribute('data-cluster', ref);
        text(g, left + 8, top + 18, 'name', ref);
        text(g, left + 8, top + 35, 'data', count.toLocaleString('en') + ' values');
        text(g, left + 8, top + 51, 'sym', '▸ open');
        g.cluster = ref;
      } else {
        unitIndex.set('o:' + ref, k);
        g.setAttribute('data-outside', ref);
        text(g, left + 8, top + 18, 'name', 'outside: ' + (ref || 'unclustered'));
        text(g, left + 8, top + 35, 'data', count.toLocaleString('en') + ' values');
        g.outside = ref;
      }
      return g;
    }

    function crumbs() {
      const nav = $('crumbs');
      nav.replaceChildren();
      if (!D.group) { nav.hidden = true; return; }
      nav.hidden = false;
      const parts = view.key ? view.key.split('.') : [];
      const keys = [''].concat(parts.map((_, k) => parts.slice(0, k + 1).join('.')));
      keys.forEach((key, k) => {
        if (k) nav.appendChild(document.createTextNode('›'));
        const b = document.createElement('button');
        b.textContent = key || 'all clusters (collapsed)';
        b.disabled = key === view.key;
        b.addEventListener('click', () => openView(key), { signal });
        nav.appendChild(b);
      });
    }

    // ------------------------------------------------------------------ drawing a state
    function setText(t, s) { if (t.textContent !== s) t.textContent = s; }
    function setClass(g, cls) { if (g.getAttribute('class') !== cls) g.setAttribute('class', cls); }

    function sends() {
      // The edges the current step works along: into the current node (its inputs).
      if (S.current < 0 || (mode === 'backward' && step === 0)) return [];
      return inEdges[S.current].filter((e) => N[E[e][0]].k !== 'constant');
    }

    function render() {
      compute();
      const cur = S.current >= 0 ? boxOf(S.current) : -1;
      const hot = sends();
      const feeds = new Set(hot.map((e) => boxOf(E[e][0])));
      const path = hovered >= 0 ? pathUnits(hovered) : null;
      boxEls.forEach((g, k) => {
        let cls = g.getAttribute('class').split(' ')[0];
        if (g.node !== undefined) {
          const i = g.node, n = N[i];
          if (mode === 'forward') {
            const done = S.computed[i];
            if (!done) cls += ' pending';
            setText(g.dataText, 'data ' + (done ? n.d : '?'));
            setText(g.gradText, '');
          } else {
            setText(g.dataText, 'data ' + n.d);
            const gr = S.grad[i];
            if (S.complete[i]) cls += ' complete';
            else if (gr !== null) cls += ' partial';
            if (S.visited[i]) cls += ' visited';
            setText(g.gradText, gr === null ? 'grad' : S.complete[i] ? 'grad ' + n.g + ' ✓'
              : 'grad ' + gr + ' so far');
          }
          if (i === selected) cls += ' selected';
        }
        if (feeds.has(k)) cls += ' feeds';
        if (path && path.boxes.has(k)) cls += ' onpath';
        if (k === cur) cls += ' current';
        setClass(g, cls);
      });
      const hotKeys = new Set(hot.map((e) => boxOf(E[e][0]) + ',' + cur));
      edgeEls.forEach((p, key) => {
        let cls = 'edge';
        if (mode === 'backward' && S.visited[edgeTarget(key)]) cls += ' done';
        if (path && path.edges.has(key)) cls += ' onpath';
        if (hotKeys.has(key)) cls += ' send';
        setClass(p, cls);
      });
      edgeLabels(hot, cur);
      caption(hot);
      if (selected >= 0 && !$('details').hidden && panelAt !== mode + step + ':' + selected) {
        details(selected);
      }
      $('counter').textContent = 'step ' + step + ' of ' + passes[mode].length;
      document.body.setAttribute('data-mode', mode);
    }

    function edgeTarget(key) {
      const b = view.boxes[+key.split(',')[1]];
      return b[0] === 'n' ? b[1] : -1;
    }

    function edgeLabels(hot, cur) {
      layers.labels.replaceChildren();
      if (hot.length > 40) return;  // a sum over hundreds of inputs: the caption lists them
      for (const e of hot) {
        const p = edgeEls.get(boxOf(E[e][0]) + ',' + cur);
        if (!p) continue;
        const len = p.getTotalLength(), at = p.getPointAtLength(len * 0.55);
        const s = mode === 'backward' ? '← ' + E[e][4] : N[E[e][0]].d + ' →';
        text(layers.labels, at.x, at.y - 4, 'edgetext', s, 'middle');
      }
    }

    // ------------------------------------------------------------------ sums where paths meet
    // A term of a sum: a negative one in brackets with a true minus, "0.5966 + (−0.2983)".
    function term(s) { return s.charAt(0) === '-' ? '(−' + s.slice(1) + ')' : s; }
    // The parts value i has received up to edge e (all of them sent so far without e).
    function received(i, upTo) {
      const out = [];
      for (const e of parts[i]) {
        if (!S.visited[E[e][1]]) break;
        out.push(e);
        if (e === upTo) break;
      }
      return out;
    }
    // "x.grad = 0.5966 + (−0.2983) = 0.2983 ✓ final": every part received and their sum.
    function sum(i, got) {
      const final = S.complete[i] && got.length === parts[i].length;
      const terms = got.map((e) => term(E[e][4]));
      if (terms.length > 8) terms.splice(3, terms.length - 5, '… ' + (terms.length - 5) + ' more');
      const total = got.length ? E[got[got.length - 1]][5] : '';
      const head = N[i].n + '.grad' + (final ? ' = ' : ' so far = ');
      return head + (got.length > 1 ? terms.join(' + ') + ' = ' : '') + total + (final ? ' ✓ final' : '');
    }

    // ------------------------------------------------------------------ captions
    function line(parent, cls, s) {
      const d = document.createElement('div');
      d.className = cls; d.textContent = s; parent.appendChild(d);
      return d;
    }
    function same(formula, value) { return formula.replace(/−/g, '-') === value; }

    function caption(hot) {
      const c = $('caption');
      c.replaceChildren();
      const total = passes[mode].length;
      if (mode === 'forward') {
        if (step === 0) {
          line(c, 'head', 'Forward pass, step 0 of ' + total + ': the inputs and parameters hold ' +
            'their values. Press → to compute the values in order.');
          return;
        }
        const n = N[S.current];
        line(c, 'head', 'Step ' + step + ' of ' + total + ': ' + n.n + ' = ' + n.v + ' = ' + n.d);
        line(c, 'line sub', n.n + ' = ' + n.e + '   (' + n.o + ')');
        return;
      }
      const r = N[D.root];
      if (step === 0) {
        line(c, 'head', 'Backward pass, step 0 of ' + total + ': the root ' + r.n +
          ' is seeded with ∂' + r.n + '/∂' + r.n + ' = 1. Press → to pass gradients back.');
        return;
      }
      const n = N[S.current];
      line(c, 'head', 'Step ' + step + ' of ' + total + ': ' + n.n + ' (grad ' + n.g +
        ', final) sends its gradient to ' + hot.length + ' input' + (hot.length === 1 ? '' : 's') +
        ': grad × local partial');
      const shown = hot.slice(0, 60);
      for (const e of shown) {
        const [s, , formula, local, flow, sofar] = E[e];
        const p = N[s].n;
        const d = '∂' + n.n + '/∂' + p + ' = ' + formula + (same(formula, local) ? '' : ' = ' + local);
        // Where a second part arrives (two paths meet), the sum so far, term by term.
        const got = received(s, e), last = got.length === parts[s].length && S.complete[s];
        const now = got.length > 1 ? sum(s, got)
          : p + '.grad ' + (last ? 'now ' + N[s].g + ' ✓ final' : 'so far ' + sofar);
        line(c, 'line', '→ ' + p + ':  ' + d + ';  ' + n.g + ' × ' + local + ' = ' + flow +
          ';  ' + now);
      }
      if (hot.length > shown.length) line(c, 'line sub', '… and ' + (hot.length - shown.length) +
        ' more inputs (click ' + n.n + ' for all of them)');
    }

    // ------------------------------------------------------------------ stepping
    function go(k) {
      step = Math.max(0, Math.min(passes[mode].length, k));
      render();
      follow();
    }
    function play() {
      if (timer) { stop(); return; }
      if (step >= passes[mode].length) step = 0;
      $('play').textContent = '❚❚ pause'; $('play').setAttribute('aria-label', 'pause');
      const tick = () => { if (step >= passes[mode].length) stop(); else go(step + 1); };
      tick();
      timer = setInterval(tick, +$('speed').value);
    }
    function stop() {
      clearInterval(timer); timer = null;
      $('play').textContent = '▶ play'; $('play').setAttribute('aria-label', 'play');
    }

    // ------------------------------------------------------------------ camera
    let cam = { x: 0, y: 0, s: 1 }, anim = 0;
    function apply() { world.setAttribute('transform', 'translate(' + cam.x + ',' + cam.y + ') scale(' + cam.s + ')'); }
    // The window onto the graph: the stage above the legend.
    function size() {
      return { w: stage.clientWidth || 800,
        h: Math.max(100, (stage.clientHeight || 500) - $('legend').offsetHeight - 6) };
    }
    function fitScale(b) {
      const z = size(), m = 24;
      return Math.min((z.w - 2 * m) / Math.max(b.w, 1), (z.h - 2 * m) / Math.max(b.h, 1));
    }
    function fit(smooth) {
      const b = { x: 0, y: 0, w: view.width, h: view.height };
      const s = Math.min(fitScale(b), 2.5);
      moveTo(centre(b, s), smooth);
    }
    function centre(b, s) {
      const z = size();
      return { s: s, x: z.w / 2 - (b.x + b.w / 2) * s, y: z.h / 2 - (b.y + b.h / 2) * s };
    }
    // While the view glides, the stage carries data-moving (tests wait for it to go).
    function moveTo(target, smooth) {
      cancelAnimationFrame(anim);
      if (!smooth) { cam = target; apply(); delete stage.dataset.moving; return; }
      const from = Object.assign({}, cam), t0 = performance.now(), ms = 380;
      stage.dataset.moving = '1';
      const frame = (now) => {
        const u = Math.min(1, (now - t0) / ms), k = u * u * (3 - 2 * u);
        cam = { x: from.x + (target.x - from.x) * k, y: from.y + (target.y - from.y) * k,
          s: from.s + (target.s - from.s) * k };
        apply();
        if (u < 1) anim = requestAnimationFrame(frame);
        else delete stage.dataset.moving;
      };
      anim = requestAnimationFrame(frame);
    }
    function zoom(f, px, py) {
      const z = size();
      if (px === undefined) { px = z.w / 2; py = z.h / 2; }
      const s = Math.max(0.02, Math.min(8, cam.s * f));
      moveTo({ s: s, x: px - (px - cam.x) * s / cam.s, y: py - (py - cam.y) * s / cam.s }, false);
    }
    function union(boxes) {
      const x0 = Math.min(...boxes.map((b) => b.x)), y0 = Math.min(...boxes.map((b) => b.y));
      const x1 = Math.max(...boxes.map((b) => b.x + b.w)), y1 = Math.max(...boxes.map((b) => b.y + b.h));
      return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
    }
    function inside(b, margin) {
      const z = size();
      return cam.x + b.x * cam.s >= margin && cam.y + b.y * cam.s >= margin &&
        cam.x + (b.x + b.w) * cam.s <= z.w - margin && cam.y + (b.y + b.h) * cam.s <= z.h - margin;
    }
    // Keep the current node and the boxes it sends to in the window, moving as little as needed.
    function follow() {
      const cur = S.current >= 0 ? boxOf(S.current) : -1;
      if (cur < 0) return;
      const own = boxEls[cur].box;
      const near = [own].concat(sends().map((e) => boxOf(E[e][0])).filter((k) => k >= 0)
        .map((k) => boxEls[k].box));
      let want = union(near);
      if (fitScale(want) < cam.s * 0.45) want = own;  // too spread out: the node itself
      if (inside(want, 16)) return;
      const s = Math.min(cam.s, fitScale(want));
      moveTo(centre(want, Math.max(s, Math.min(fitScale(own), 0.05))), true);
    }

    // pointer: drag to pan, two fingers to pinch, wheel to zoom at the cursor
    const pointers = new Map();
    let dragged = false, pinch = 0;
    stage.addEventListener('pointerdown', (ev) => {
      pointers.set(ev.pointerId, { x: ev.clientX, y: ev.clientY });
      dragged = false;
      if (pointers.size === 2) pinch = spread();
    }, { signal });
    window.addEventListener('pointermove', (ev) => {
      const p = pointers.get(ev.pointerId);
      if (!p) return;
      const dx = ev.clientX - p.x, dy = ev.clientY - p.y;
      p.x = ev.clientX; p.y = ev.clientY;
      if (pointers.size === 2) {
        const d = spread(), r = stage.getBoundingClientRect();
        const mid = [...pointers.values()].reduce((a, q) => ({ x: a.x + q.x / 2, y: a.y + q.y / 2 }), { x: 0, y: 0 });
        if (pinch > 0) zoom(d / pinch, mid.x - r.left, mid.y - r.top);
        pinch = d; dragged = true;
        return;
      }
      if (Math.abs(dx) + Math.abs(dy) > 0) {
        dragged = dragged || Math.abs(dx) + Math.abs(dy) > 2;
        if (dragged) { stage.classList.add('dragging'); cancelAnimationFrame(anim); delete stage.dataset.moving; cam.x += dx; cam.y += dy; apply(); }
      }
    }, { signal });
    const release = (ev) => { pointers.delete(ev.pointerId); stage.classList.remove('dragging'); pinch = 0; };
    window.addEventListener('pointerup', release, { signal });
    window.addEventListener('pointercancel', release, { signal });
    function spread() { const [a, b] = [...pointers.values()]; return Math.hypot(a.x - b.x, a.y - b.y); }
    stage.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      const r = stage.getBoundingClientRect();
      zoom(Math.exp(-ev.deltaY * (ev.ctrlKey ? 0.01 : 0.0015)), ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false, signal });

    // ------------------------------------------------------------------ hover: paths from the root
    function pathUnits(i) {
      // Every node on a path from the root down to i: i and everything that uses it, in turn.
      const on = new Uint8Array(N.length), todo = [i];
      on[i] = 1;
      while (todo.length) {
        for (const e of outEdges[todo.pop()]) {
          const t = E[e][1];
          if (!on[t]) { on[t] = 1; todo.push(t); }
        }
      }
      const boxes = new Set(), edges = new Set();
      on.forEach((v, j) => { if (v) boxes.add(boxOf(j)); });
      on.forEach((v, j) => {
        if (!v) return;
        for (const e of outEdges[j]) edges.add(boxOf(j) + ',' + boxOf(E[e][1]));
      });
      return { boxes: boxes, edges: edges };
    }
    layers.boxes.addEventListener('pointerover', (ev) => {
      const g = ev.target.closest('g.value');
      const i = g ? g.node : -1;
      if (i !== hovered) { hovered = i; render(); }
    }, { signal });
    layers.boxes.addEventListener('pointerleave', () => { if (hovered >= 0) { hovered = -1; render(); } }, { signal });

    // ------------------------------------------------------------------ clicks and details
    layers.boxes.addEventListener('click', (ev) => {
      if (dragged) return;
      const g = ev.target.closest('g');
      if (!g) return;
      if (g.cluster !== undefined) openView(g.cluster);
      else if (g.outside !== undefined) openView(views.has(g.outside) ? g.outside : '');
      else if (g.node !== undefined) select(g.node);
    }, { signal });

    let panelAt = '';  // the step the open panel shows, to refresh it when the step changes
    function select(i) {
      selected = i;
      details(i);
      render();
      keepInView([i, S.current]);
    }

    // After the panel opens (the stage narrows), the chosen and the current value stay in sight.
    function keepInView(ids) {
      const boxes = ids.filter((i) => i >= 0).map(boxOf).filter((k) => k >= 0).map((k) => boxEls[k].box);
      if (!boxes.length) return;
      let want = union(boxes);
      if (fitScale(want) < cam.s * 0.45) want = boxes[boxes.length - 1];
      if (inside(want, 16)) return;
      moveTo(centre(want, Math.min(cam.s, fitScale(want))), true);
    }

    function cell(tr, s, tag) {
      const td = document.createElement(tag || 'td');
      td.textContent = s; tr.appendChild(td);
      return td;
    }
    function para(parent, tag, s, cls) {
      const x = document.createElement(tag);
      x.textContent = s; if (cls) x.className = cls;
      parent.appendChild(x);
      return x;
    }

    function details(i) {
      const p = $('details'), n = N[i];
      panelAt = mode + step + ':' + i;
      p.replaceChildren();
      p.hidden = false;
      const close = para(p, 'button', '✕ close', 'close');
      close.addEventListener('click', () => { p.hidden = true; selected = -1; render(); }, { signal });
      para(p, 'h2', n.n);
      para(p, 'div', 'data = ' + n.D, 'num');
      para(p, 'div', 'grad = ∂' + N[D.root].n + '/∂' + n.n + ' = ' + n.G, 'num');
      if (n.k === 'op') {
        para(p, 'h3', 'Made by ' + n.o + ' (' + n.s + ')');
        para(p, 'div', n.n + ' = ' + n.e);
        para(p, 'div', '= ' + n.v + ' = ' + n.d, 'num');
        para(p, 'h3', 'Inputs: local partial and what each gets back');
        const t = document.createElement('table'), head = document.createElement('tr');
        ['input', '∂' + n.n + '/∂input', 'passes back'].forEach((s) => cell(head, s, 'th'));
        t.appendChild(head);
        for (const e of inEdges[i]) {
          const [s, , formula, local, flow] = E[e], tr = document.createElement('tr');
          cell(tr, N[s].n + (N[s].k === 'constant' ? ' (constant)' : ''));
          cell(tr, same(formula, local) ? formula : formula + ' = ' + local);
          cell(tr, n.g + ' × ' + local + ' = ' + flow);
          t.appendChild(tr);
        }
        p.appendChild(t);
      } else {
        para(p, 'h3', n.k === 'leaf' ? 'A leaf: an input or parameter' : 'A constant');
      }
      const users = new Map();
      for (const e of outEdges[i]) { const u = N[E[e][1]].n; users.set(u, (users.get(u) || 0) + 1); }
      if (users.size) {
        para(p, 'h3', 'Used by');
        const list = [...users].slice(0, 30).map(([u, c]) => c > 1 ? u + ' ×' + c : u);
        para(p, 'div', list.join(', ') + (users.size > 30 ? ', … (' + users.size + ' in all)' : ''));
      }
      if (mode === 'backward') receivedParts(p, i);
      para(p, 'h3', 'The chain rule, path by path');
      const x = D.explained[String(i)];
      if (x) para(p, 'pre', x);
      else para(p, 'div', 'Not precomputed for this value: the page carries the derivation of ' +
        'the values nearest the root only (explain(root, value) in Python gives it).', 'sub');
    }

    // Each part of i's gradient (one per use of i), which have arrived by this step, the sum.
    function receivedParts(p, i) {
      para(p, 'h3', 'Its gradient: one part from each use, added up');
      if (i === D.root) {
        para(p, 'div', N[i].n + '.grad = 1: the root, seeded with ∂' + N[i].n + '/∂' + N[i].n + ' = 1');
        return;
      }
      const t = document.createElement('table'), head = document.createElement('tr');
      ['from', 'step', 'sends back', ''].forEach((s) => cell(head, s, 'th'));
      t.appendChild(head);
      for (const e of parts[i].slice(0, 60)) {
        const [, u, , local, flow] = E[e], tr = document.createElement('tr');
        cell(tr, 'from ' + N[u].n);
        cell(tr, String(stepOf[u] + 1));
        cell(tr, N[u].g + ' × ' + local + ' = ' + flow);
        cell(tr, S.visited[u] ? '✓ received' : 'not yet');
        t.appendChild(tr);
      }
      p.appendChild(t);
      const got = received(i, -1);
      para(p, 'div', got.length ? sum(i, got) : N[i].n + '.grad: nothing received yet', 'num sum');
    }

    // ------------------------------------------------------------------ find
    function find(q) {
      q = q.trim();
      if (!q) return;
      const lower = q.toLowerCase();
      let i = byName.get(q);
      if (i === undefined) {
        for (const [name, j] of byName) if (name.toLowerCase() === lower) { i = j; break; }
      }
      if (i === undefined) {
        for (const [name, j] of byName) if (name.toLowerCase().startsWith(lower)) { i = j; break; }
      }
      if (i === undefined && views.has(q)) { $('find').classList.remove('missing'); openView(q); return; }
      $('find').classList.toggle('missing', i === undefined);
      if (i === undefined) return;
      if (D.group && boxOf(i) < 0 || D.group && unitKey(i) !== 'n:' + i) openView(views.has(N[i].c) ? N[i].c : '');
      selected = i;
      details(i);
      render();
      const k = boxOf(i);
      if (k >= 0) moveTo(centre(boxEls[k].box, Math.max(cam.s, Math.min(1, fitScale(boxEls[k].box)))), true);
    }
    $('find').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') find(ev.target.value); }, { signal });
    $('find').addEventListener('change', (ev) => find(ev.target.value), { signal });

    // ------------------------------------------------------------------ controls
    $('mode').addEventListener('change', (ev) => { stop(); mode = ev.target.value; go(0); }, { signal });
    $('prev').addEventListener('click', () => go(step - 1), { signal });
    $('next').addEventListener('click', () => go(step + 1), { signal });
    $('first').addEventListener('click', () => go(0), { signal });
    $('last').addEventListener('click', () => go(passes[mode].length), { signal });
    $('play').addEventListener('click', play, { signal });
    $('speed').addEventListener('change', () => { if (timer) { stop(); play(); } }, { signal });
    $('zoomin').addEventListener('click', () => zoom(1.25), { signal });
    $('zoomout').addEventListener('click', () => zoom(0.8), { signal });
    $('fit').addEventListener('click', () => fit(true), { signal });
    document.addEventListener('keydown', (ev) => {
      const t = ev.target.tagName;
      if (t === 'INPUT' || t === 'SELECT' || t === 'TEXTAREA' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const keys = { ArrowRight: () => go(step + 1), ArrowLeft: () => go(step - 1),
        Home: () => go(0), End: () => go(passes[mode].length), ' ': play,
        '+': () => zoom(1.25), '=': () => zoom(1.25), '-': () => zoom(0.8), '0': () => fit(true) };
      if (keys[ev.key]) { ev.preventDefault(); keys[ev.key](); }
    }, { signal });
    // A focused button would also take the space bar as a click: space only plays.
    document.addEventListener('keyup', (ev) => { if (ev.key === ' ' && ev.target.tagName === 'BUTTON') ev.preventDefault(); }, { signal });
    // The stage changes size when the panel opens or the window does: keep the step in sight.
    const watcher = new ResizeObserver(() => { if (view) keepInView([selected >= 0 ? selected : S.current]); });
    watcher.observe(stage);

    // The legend folds away (it starts folded on a narrow screen, where it would cover the graph).
    const toggle = $('legendtoggle');
    if (toggle) {
      const show = (open) => {
        $('legend').classList.toggle('closed', !open);
        toggle.setAttribute('aria-expanded', String(open));
        toggle.textContent = open ? 'legend ▾' : 'legend ▸';
      };
      show(window.innerWidth >= 600);
      toggle.addEventListener('click', () => show($('legend').classList.contains('closed')), { signal });
      toggle.addEventListener('pointerdown', (ev) => ev.stopPropagation(), { signal });
    }
    if (D.note) { $('note').hidden = false; $('note').textContent = D.note; }
    openView('');
    go(0);
    document.body.setAttribute('data-ready', String(Math.round(performance.now())));
    return {
      destroy() {
        stop(); cancelAnimationFrame(anim); watcher.disconnect(); life.abort();
        for (const l of Object.values(layers)) l.replaceChildren();
        $('details').hidden = true; $('note').hidden = true; $('crumbs').hidden = true;
      },
    };
  }

  window.AutogradExplorer = { start: start };
  const data = document.getElementById('data');
  if (data && data.textContent.trim()) start(JSON.parse(data.textContent));
})();
