// The playground page: shows what Python sends and sends commands back. It never trains; every
// number here was computed in Python by the engine. Python is either the local server (a
// WebSocket) or, in the static site (<body data-transport="worker">), a Web Worker running the
// same session in the page: the same JSON messages both ways. Text from Python or the user is
// put in the page with textContent or setAttribute only, never parsed as HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const NODE = 34, GAP_Y = 44, TOP = 30, LEFT = 30, RIGHT = 34;  // diagram geometry, in CSS pixels

  const inWorker = document.body.dataset.transport === "worker";
  let sendText = null;   // the transport: sends one command as JSON text
  let ready = false;     // the transport takes commands now
  let state = null;      // the last full state: settings, points, shape
  let frame = null;      // the last frame: numbers, weights, gradients, heat maps
  let picked = null;     // id of the example the explanations use
  let selected = null;   // name of the weight being explained
  let colours = {};
  let saying = "";       // the text in #message now
  let frameSaid = "";    // the message the last frame brought ("" for none)
  const edges = [];      // {path, layer, to, from}
  const nodes = [];      // {canvas, layer, index}

  // -- the two transports ---------------------------------------------------------------------

  // The server: a WebSocket next to the page (a relative URL, so any path works).
  function connect() {
    const url = new URL("ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url.href);
    sendText = (text) => socket.send(text);
    socket.onopen = () => { ready = true; $("connection").textContent = "connected"; };
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = () => {
      ready = false;
      $("connection").textContent = "disconnected: retrying…";
      setTimeout(connect, 1000);
    };
  }

  // The static site: Python (Pyodide) in a worker; it queues commands while it loads.
  function startWorker() {
    // ?replay=python: train through the Python replay even where JavaScript would be exact.
    const replay = new URLSearchParams(location.search).get("replay") === "python" ? "?replay=python" : "";
    const worker = new Worker(`playground-worker.js${replay}`, {type: "module"});
    sendText = (text) => worker.postMessage(text);
    ready = true;
    $("connection").textContent = "loading Python…";
    worker.onmessage = (event) => receive(JSON.parse(event.data));
    worker.onerror = (event) => {
      event.preventDefault();
      showLoading(null);
      $("connection").textContent = "stopped";
      say(`Python could not start in this page (${event.message || "its worker failed to load"}); reload to try again.`, true);
    };
  }

  function send(message) {
    if (ready) sendText(JSON.stringify(message));
    else say("Not connected to the playground server.", true);
  }

  // While Python loads in the worker: what is loading, and how far along it is.
  function showLoading(m) {
    const box = $("loading");
    box.hidden = !m;
    if (!m) return;
    $("loading-what").textContent = `${m.what}…`;
    $("loading-bar").max = m.total;
    $("loading-bar").value = m.done;
  }

  function set(settings) { send({cmd: "set", settings}); }

  function receive(message) {
    if (message.type === "loading") showLoading(message);
    else if (message.type === "graph") showGraph(message);
    else if (message.type === "state") applyState(message);
    else if (message.type === "frame") applyFrame(message);
    else if (message.type === "points") applyPoints(message);
    else if (message.type === "explain") showExplain(message);
    else if (message.type === "error") {
      if (!state) showLoading(null);  // Python did not start: the message says why
      say(message.message, true);
      syncControls();
    }
  }

  function say(text, isError) {
    saying = text;
    const m = $("message");
    m.textContent = text ? (isError ? "⚠ " : "") + text : "";
    m.classList.toggle("error", Boolean(isError));
  }

  // -- state: settings, data, the shape of the network --------------------------------------

  function applyState(message) {
    if (inWorker && !state) { showLoading(null); $("connection").textContent = "Python in this page"; }
    state = message;
    $("step").disabled = $("reset").disabled = false;
    if (picked !== null && !state.points.some((p) => p.id === picked)) picked = null;
    syncControls();
    buildNetwork();
    buildLegends();
    applyFrame(message.frame);
    updatePicked();
    showPointCount();
  }

  // Points added or removed by a click: the loss and accuracy with them come with the next frame.
  function applyPoints(message) {
    if (!state) return;
    const gone = new Set(message.removed);
    if (gone.size) state.points = state.points.filter((p) => !gone.has(p.id));
    state.points.push(...message.added);
    state.added_count = message.added_count;
    if (gone.has(picked)) picked = null;
    syncControls();
    paintPlane();
    updatePicked();
    showPointCount();
  }

  function trainingCount() { return state.points.filter((p) => !p.test).length; }

  function showPointCount() {
    const n = (k) => k.toLocaleString("en");
    const nTrain = trainingCount();
    const nTest = state.points.length - nTrain;
    $("point-count").textContent = `${n(state.points.length)} points (${n(nTrain)} training, ` +
      `${n(nTest)} test); ${n(state.added_count)} added by clicks, at most ${n(state.limits.added)}.`;
  }

  function syncControls() {
    if (!state) return;
    const s = state.settings;
    $("lr").value = s.lr;
    $("l2").value = s.l2;
    $("activation").value = s.activation;
    $("loss-fn").value = s.loss;
    $("optimizer").value = s.optimizer;
    const nTrain = trainingCount();
    $("full-batch").checked = s.batch >= nTrain;
    $("batch").value = Math.min(s.batch, Math.max(nTrain, 1));
    $("batch").disabled = s.batch >= nTrain;
    for (const [id, key] of [["points", "points"], ["noise", "noise"],
                             ["test-fraction", "test_fraction"]]) {
      $(id).value = s[key];
      $(id + "-value").textContent = String(s[key]);
    }
    for (const b of document.querySelectorAll("[data-dataset]")) {
      b.setAttribute("aria-pressed", String(b.dataset.dataset === s.dataset));
    }
    for (const opt of $("loss-fn").options) opt.disabled = state.classes > 2 && opt.value !== "cross-entropy";
    $("speed").value = String(speedIndex(s.speed));
    $("speed-value").textContent = speedText(s.speed);
    $("layer-count").textContent = `${s.hidden.length} hidden layer${s.hidden.length === 1 ? "" : "s"}`;
    $("add-layer").disabled = s.hidden.length >= state.limits.layers;
    $("remove-layer").disabled = s.hidden.length === 0;
    buildClassChooser();
  }

  function buildClassChooser() {
    const box = $("new-class");
    const current = box.querySelector("input:checked");
    const keep = current ? Number(current.value) : 0;
    box.replaceChildren();
    for (let k = 0; k < state.classes; k++) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      Object.assign(input, {type: "radio", name: "new-class", value: String(k)});
      input.checked = k === (keep < state.classes ? keep : 0);
      label.append(input, markSvg(k, false), `class ${k}`);
      box.append(label);
    }
  }

  // -- the network diagram --------------------------------------------------------------------

  function columns() {
    const s = state.settings;
    return [2, ...s.hidden, state.classes === 2 ? 1 : state.classes];
  }

  // The speed control's stops, in steps per second; the last (null) is full speed.
  const SPEEDS = [1, 2, 3, 5, 10, 20, 50, 100, 200, 500, null];

  function speedIndex(speed) {
    if (speed === null || speed === undefined) return SPEEDS.length - 1;
    let best = 0;
    SPEEDS.forEach((v, i) => { if (v !== null && Math.abs(v - speed) < Math.abs(SPEEDS[best] - speed)) best = i; });
    return best;
  }

  function speedText(speed) {
    return speed === null || speed === undefined ? "full" : `${speed} step${speed === 1 ? "" : "s"}/s`;
  }

  function nodePos(layer, index, count, width, tallest) {
    const cols = columns().length;
    const x = LEFT + layer * (width - NODE - LEFT - RIGHT) / (cols - 1);
    const y = TOP + (tallest - count) * GAP_Y / 2 + index * GAP_Y;
    return {x, y};
  }

  function buildNetwork() {
    const box = $("network");
    box.replaceChildren();
    edges.length = 0;
    nodes.length = 0;
    const sizes = columns();
    const tallest = Math.max(...sizes);
    const width = Math.max(box.clientWidth, 300);
    const height = TOP + tallest * GAP_Y + 10;
    box.style.height = height + "px";
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "edges");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    box.append(svg);
    for (let l = 1; l < sizes.length; l++) {
      for (let j = 0; j < sizes[l]; j++) {
        const b = nodePos(l, j, sizes[l], width, tallest);
        for (let i = 0; i < sizes[l - 1]; i++) {
          const a = nodePos(l - 1, i, sizes[l - 1], width, tallest);
          addEdge(svg, a, b, l, j, i);
        }
      }
    }
    sizes.forEach((count, l) => {
      for (let k = 0; k < count; k++) addNode(box, nodePos(l, k, count, width, tallest), l, k);
      addColumnControls(box, l, sizes, width, tallest);
    });
  }

  function addEdge(svg, a, b, layer, to, from) {
    const x1 = a.x + NODE, y1 = a.y + NODE / 2, x2 = b.x, y2 = b.y + NODE / 2;
    const mid = (x1 + x2) / 2;
    const d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
    const name = `L${layer}.N${to + 1}.w${from + 1}`;
    const hit = document.createElementNS(SVG, "path");
    hit.setAttribute("d", d);
    hit.setAttribute("class", "hit");
    const title = document.createElementNS(SVG, "title");
    hit.append(title);
    hit.addEventListener("click", () => explain(name));
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    path.setAttribute("class", "edge");
    svg.append(hit, path);
    edges.push({path, title, layer, to, from, name});
  }

  function addNode(box, pos, layer, index) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = NODE * 2;
    canvas.className = "node";
    Object.assign(canvas.style, {left: pos.x + "px", top: pos.y + "px",
                                 width: NODE + "px", height: NODE + "px"});
    const last = layer === columns().length - 1;
    if (layer === 0) {
      canvas.title = `input x${index + 1}`;
      canvas.style.cursor = "default";
    } else {
      const name = `L${layer}.N${index + 1}`;
      canvas.title = `${name}${last ? " (output)" : ""}: click for ∂loss/∂${name}.b`;
      canvas.addEventListener("click", () => explain(`${name}.b`));
      canvas.tabIndex = 0;  // reachable from the keyboard: Enter or Space explains the bias
      canvas.setAttribute("role", "button");
      canvas.setAttribute("aria-label", canvas.title);
      canvas.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); explain(`${name}.b`); }
      });
    }
    box.append(canvas);
    nodes.push({canvas, layer, index});
    if (layer === 0 || last) {
      const label = document.createElement("div");
      label.className = "node-label";
      // With several classes each output is the score of one class: shown by its mark.
      if (layer === 0) label.textContent = `x${index + 1}`;
      else if (columns()[layer] === 1) label.textContent = "out";
      else label.append(markSvg(index, false));
      // Inputs are named on their left, outputs on their right.
      const left = layer === 0 ? pos.x - LEFT : pos.x + NODE + 2;
      Object.assign(label.style, {left: left + "px", top: pos.y + NODE / 2 - 8 + "px", width: LEFT - 2 + "px"});
      box.append(label);
    }
  }

  function addColumnControls(box, layer, sizes, width, tallest) {
    if (layer === 0 || layer === sizes.length - 1) return;
    const pos = nodePos(layer, 0, tallest, width, tallest);
    const group = document.createElement("div");
    group.className = "neurons";
    Object.assign(group.style, {left: pos.x - 6 + "px", top: "0px"});
    for (const [text, delta] of [["+", 1], ["−", -1]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.className = delta > 0 ? "add-neuron" : "remove-neuron";
      b.setAttribute("aria-label", `${delta > 0 ? "add a neuron to" : "remove a neuron from"} layer ${layer}`);
      b.dataset.layer = String(layer);
      b.disabled = delta > 0 ? sizes[layer] >= state.limits.neurons : sizes[layer] <= 1;
      b.addEventListener("click", () => {
        const hidden = state.settings.hidden.slice();
        hidden[layer - 1] += delta;
        set({hidden});
      });
      group.append(b);
    }
    box.append(group);
  }

  // -- frames: numbers, edges, heat maps, curves ----------------------------------------------

  function number(x, digits) {
    if (x === null || x === undefined) return "–";
    return typeof x === "number" ? x.toFixed(digits) : String(x);
  }

  function applyFrame(f) {
    frame = f;
    $("steps").textContent = String(f.steps);
    $("sps").textContent = number(f.sps, 0);
    $("replay").textContent = f.replay ? `(${f.replay} replay)` : "";
    $("loss").textContent = number(f.train_loss, 4);
    $("test-loss").textContent = number(f.test_loss, 4);
    $("accuracy").textContent = number(f.train_accuracy, 1);
    $("test-accuracy").textContent = number(f.test_accuracy, 1);
    $("play").disabled = f.running;
    $("pause").disabled = !f.running;
    if (f.message) say(f.message, true);
    // The run has gone on since its pause message: take that down, not a command's refusal.
    else if (frameSaid && saying === frameSaid) say("");
    frameSaid = f.message;
    paintEdges();
    paintNodes();
    paintPlane();
    paintCurves();
  }

  function paintEdges() {
    if (!frame || !edges.length) return;
    const gradients = document.querySelector("input[name=edge-mode]:checked").value === "gradients";
    let top = 0;
    for (const e of edges) {
      const g = frame.grads[e.layer - 1][e.to][e.from];
      if (typeof g === "number") top = Math.max(top, Math.abs(g));
    }
    for (const e of edges) {
      const w = frame.weights[e.layer - 1][e.to][e.from];
      const g = frame.grads[e.layer - 1][e.to][e.from];
      const style = gradients ? gradientStyle(g, top) : weightStyle(w);
      e.path.setAttribute("stroke", style.colour);
      e.path.setAttribute("stroke-width", style.width.toFixed(2));
      e.path.setAttribute("stroke-opacity", style.opacity.toFixed(2));
      e.path.setAttribute("stroke-dasharray", style.dashed ? "5 3" : "none");
      e.path.classList.toggle("selected", e.name === selected);
      e.title.textContent = `${e.name} = ${number(w, 4)}, ∂loss/∂w = ${typeof g === "number" ? g.toExponential(2) : g}`;
    }
  }

  function weightStyle(w) {
    if (typeof w !== "number") return {colour: colours.error, width: 1, opacity: 1, dashed: true};
    return {colour: w >= 0 ? colours.class1 : colours.class0, dashed: w < 0,
            width: Math.min(0.5 + 1.5 * Math.abs(w), 7), opacity: 0.85};
  }

  // Gradients on a log scale over four decades below the largest: vanishing shows as fading.
  function gradientStyle(g, top) {
    if (typeof g !== "number") return {colour: colours.error, width: 1, opacity: 1, dashed: true};
    const t = top > 0 && g !== 0 ? Math.max(0, 1 + Math.log10(Math.abs(g) / top) / 4) : 0;
    return {colour: colours.grad, width: 0.4 + 5 * t * t, opacity: 0.15 + 0.85 * t, dashed: g < 0};
  }

  function bytesOf(b64) {
    const s = atob(b64);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return bytes;
  }

  // Heat maps come as little-endian float32; a non-finite value is painted as zero.
  function floatsOf(b64) {
    const bytes = bytesOf(b64);
    const view = new DataView(bytes.buffer);
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) {
      const v = view.getFloat32(4 * i, true);
      out[i] = Number.isFinite(v) ? v : 0;
    }
    return out;
  }

  function largest(values) {
    let top = 0;
    for (const v of values) top = Math.max(top, Math.abs(v));
    return top;
  }

  function rgb(hex) {
    const n = parseInt(hex.trim().slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  function mix(a, b, t) { return [0, 1, 2].map((k) => a[k] + (b[k] - a[k]) * t); }

  // A diverging map: orange for negative, blue for positive, the page's ground at zero.
  function paintMap(canvas, n, colourAt) {
    const off = document.createElement("canvas");
    off.width = off.height = n;
    const ctx = off.getContext("2d");
    const img = ctx.createImageData(n, n);
    for (let i = 0; i < n * n; i++) {
      const c = colourAt(i);
      img.data.set([c[0], c[1], c[2], 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    const out = canvas.getContext("2d");
    out.imageSmoothingEnabled = true;
    out.drawImage(off, 0, 0, canvas.width, canvas.height);
  }

  function diverging(values, scale, strength) {
    const bg = rgb(colours.bg), neg = rgb(colours.class0), pos = rgb(colours.class1);
    const k = scale > 0 ? strength / scale : 0;
    return (i) => {
      const d = Math.max(-1, Math.min(1, values[i] * k));
      return d >= 0 ? mix(bg, pos, d) : mix(bg, neg, -d);
    };
  }

  function paintNodes() {
    if (!frame || !state) return;
    const n = state.grid;
    const last = columns().length - 1;
    for (const {canvas, layer, index} of nodes) {
      canvas.classList.toggle("selected", selected !== null &&
        selected === `L${layer}.N${index + 1}.b`);
      if (layer === 0) paintMap(canvas, n, inputMap(index, n));
      else if (layer < last) {
        const values = floatsOf(frame.maps[layer - 1][index]);
        paintMap(canvas, n, neuronColour(values));
        const level = state.settings.activation === "sigmoid" ? 0.5 : 0;
        contour(canvas.getContext("2d"), values, n, level, canvas.width, [3, 2], 1);
      } else paintMap(canvas, n, surfaceColour(n, 1, index));
    }
  }

  // Marching squares: the line where a field sampled at the grid's cell centres crosses `level`,
  // so a sign is shown by a line as well as by colour.
  function contour(ctx, values, n, level, size, dash, width) {
    const cell = size / n;
    const at = (r, c) => values[r * n + c] - level;
    const centre = (k) => (k + 0.5) * cell;
    ctx.save();
    ctx.strokeStyle = colours.fg;
    ctx.lineWidth = width;
    ctx.setLineDash(dash);
    ctx.beginPath();
    for (let r = 0; r < n - 1; r++) {
      for (let c = 0; c < n - 1; c++) {
        const tl = at(r, c), tr = at(r, c + 1), bl = at(r + 1, c), br = at(r + 1, c + 1);
        const cuts = [];
        if ((tl > 0) !== (tr > 0)) cuts.push([centre(c) + cell * tl / (tl - tr), centre(r)]);
        if ((tr > 0) !== (br > 0)) cuts.push([centre(c + 1), centre(r) + cell * tr / (tr - br)]);
        if ((bl > 0) !== (br > 0)) cuts.push([centre(c) + cell * bl / (bl - br), centre(r + 1)]);
        if ((tl > 0) !== (bl > 0)) cuts.push([centre(c), centre(r) + cell * tl / (tl - bl)]);
        for (let k = 0; k + 1 < cuts.length; k += 2) {
          ctx.moveTo(...cuts[k]);
          ctx.lineTo(...cuts[k + 1]);
        }
      }
    }
    ctx.stroke();
    ctx.restore();
  }

  // The decision boundary: where the score changes sign, or where the winning class changes.
  function boundary(ctx, size) {
    const s = frame.surface, n = state.grid;
    if (s.kind === "binary") { contour(ctx, floatsOf(s.data), n, 0, size, [], 1.5); return; }
    const cls = bytesOf(s.classes);
    for (let k = 0; k < state.classes; k++) {
      contour(ctx, Float32Array.from(cls, (c) => (c === k ? 1 : -1)), n, 0, size, [], 1.5);
    }
  }

  // Each activation on its own range, so that saturation shows as solid colour: tanh from −1 to 1,
  // sigmoid from 0 to 1 around ½, ReLU from 0 to its largest value on the plane.
  function neuronColour(values) {
    const act = state.settings.activation;
    if (act === "sigmoid") return diverging(values.map((v) => 2 * v - 1), 1, 1);
    if (act === "tanh") return diverging(values, 1, 1);
    return diverging(values, largest(values), 1);
  }

  function inputMap(index, n) {
    const bg = rgb(colours.bg), neg = rgb(colours.class0), pos = rgb(colours.class1);
    return (i) => {
      const r = Math.floor(i / n), c = i % n;
      const v = index === 0 ? (2 * c + 1) / n - 1 : 1 - (2 * r + 1) / n;
      return v >= 0 ? mix(bg, pos, v) : mix(bg, neg, -v);
    };
  }

  function classColour(k) { return rgb(colours[`class${k}`]); }

  function surfaceColour(n, strength, only) {
    const s = frame.surface;
    const values = floatsOf(s.data);
    if (s.kind === "binary") return diverging(values, 1, strength);
    const cls = bytesOf(s.classes);
    const bg = rgb(colours.bg);
    return (i) => {
      // The winner's probability runs from 1/3 (a tie) to 1; in the diagram each output node
      // lights only where its class wins.
      const t = Math.max(0, (values[i] - 1 / 3) * 1.5) * strength;
      if (only !== undefined && cls[i] !== only) return bg;
      return mix(bg, classColour(cls[i]), t);
    };
  }

  // -- the plane ------------------------------------------------------------------------------

  function toPixel(x, y, size) {
    const e = state.extent;
    return [(x + e) / (2 * e) * size, (e - y) / (2 * e) * size];
  }

  function paintPlane() {
    if (!frame || !state) return;
    const canvas = $("plane");
    const ratio = window.devicePixelRatio || 1;
    const size = 400;
    if (canvas.width !== size * ratio) { canvas.width = canvas.height = size * ratio; }
    const ctx = canvas.getContext("2d");
    paintMap(canvas, state.grid, surfaceColour(state.grid, 0.65));
    ctx.save();
    ctx.scale(ratio, ratio);
    drawAxes(ctx, size);
    boundary(ctx, size);
    for (const p of state.points) drawPoint(ctx, p, size);
    ctx.restore();
  }

  function drawAxes(ctx, size) {
    ctx.strokeStyle = colours.line;
    ctx.lineWidth = 1;
    const [cx, cy] = toPixel(0, 0, size);
    ctx.beginPath();
    ctx.moveTo(cx, 0); ctx.lineTo(cx, size); ctx.moveTo(0, cy); ctx.lineTo(size, cy);
    ctx.stroke();
  }

  // Each class has its own mark (circle, square, triangle), so colour is never the only cue.
  function markPath(ctx, k, x, y, r) {
    ctx.beginPath();
    if (k === 0) ctx.arc(x, y, r, 0, 2 * Math.PI);
    else if (k === 1) ctx.rect(x - r * 0.9, y - r * 0.9, r * 1.8, r * 1.8);
    else { ctx.moveTo(x, y - r * 1.15); ctx.lineTo(x + r, y + r * 0.7); ctx.lineTo(x - r, y + r * 0.7); ctx.closePath(); }
  }

  function drawPoint(ctx, p, size) {
    const [x, y] = toPixel(p.x, p.y, size);
    markPath(ctx, p.label, x, y, 4.2);
    ctx.lineWidth = p.test ? 2 : 1;
    ctx.strokeStyle = p.test ? colours[`class${p.label}`] : colours.fg;
    if (!p.test) { ctx.fillStyle = colours[`class${p.label}`]; ctx.fill(); }
    ctx.stroke();
    if (p.id === picked) {
      ctx.beginPath();
      ctx.arc(x, y, 9, 0, 2 * Math.PI);
      ctx.lineWidth = 2;
      ctx.strokeStyle = colours.fg;
      ctx.stroke();
    }
  }

  function markSvg(k, hollow) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", "14");
    svg.setAttribute("height", "14");
    const shapes = {0: ["circle", {cx: 7, cy: 7, r: 5}], 1: ["rect", {x: 2, y: 2, width: 10, height: 10}],
                    2: ["polygon", {points: "7,1 13,12 1,12"}]};
    const [tag, attrs] = shapes[k];
    const shape = document.createElementNS(SVG, tag);
    for (const [a, v] of Object.entries(attrs)) shape.setAttribute(a, String(v));
    // CSS variables work in style, not in SVG presentation attributes.
    shape.style.fill = hollow ? "none" : `var(--class${k})`;
    shape.style.stroke = hollow ? `var(--class${k})` : "var(--fg)";
    shape.style.strokeWidth = hollow ? "2" : "1";
    svg.append(shape);
    return svg;
  }

  function nearestPoint(x, y, size, radius) {
    let best = null, bestD = radius;
    for (const p of state.points) {
      const [px, py] = toPixel(p.x, p.y, size);
      const d = Math.hypot(px - x, py - y);
      if (d <= bestD) { best = p; bestD = d; }
    }
    return best;
  }

  function onPlaneClick(event) {
    if (!state) return;
    const rect = $("plane").getBoundingClientRect();
    const x = (event.clientX - rect.left) * 400 / rect.width;
    const y = (event.clientY - rect.top) * 400 / rect.height;
    const mode = document.querySelector("input[name=click-mode]:checked").value;
    const hit = nearestPoint(x, y, 400, mode === "pick" ? 12 : 6);
    if (mode === "pick") {
      if (hit) { picked = hit.id; updatePicked(); paintPlane(); if (selected) explain(selected); }
      return;
    }
    if (hit) { send({cmd: "remove", id: hit.id}); return; }
    const e = state.extent;
    const chosen = Number(document.querySelector("input[name=new-class]:checked")?.value || 0);
    const label = event.shiftKey ? (chosen + 1) % state.classes : chosen;
    send({cmd: "add", x: x / 400 * 2 * e - e, y: e - y / 400 * 2 * e, label});
  }

  function updatePicked() {
    const p = state && state.points.find((q) => q.id === picked);
    $("picked").textContent = p ? `Picked example #${p.id}: x1 = ${p.x.toFixed(3)}, x2 = ${p.y.toFixed(3)}, class ${p.label}${p.test ? " (test)" : ""}.` : "";
    const link = $("graph-link");
    link.hidden = !p;
    if (p) link.setAttribute("href", inWorker ? "explorer.html" : `graph/${encodeURIComponent(p.id)}`);
  }

  // -- one example's graph in the explorer -----------------------------------------------------
  // The server answers the link with the explorer's page. In the site the worker computes the
  // explorer's data (laid out by viz-js) and this page hands it to explorer.html, which says
  // "ready" when it can take it.

  const explorer = {win: null, ready: false, data: null};

  function openGraph(event) {
    if (!inWorker || picked === null) return;
    event.preventDefault();
    Object.assign(explorer, {win: window.open("explorer.html"), ready: false, data: null});
    if (!explorer.win) { say("The browser blocked the explorer's window: allow pop-ups for this page.", true); return; }
    send({cmd: "graph", point: picked});
  }

  function showGraph(message) {
    explorer.data = message;
    deliverGraph();
  }

  function deliverGraph() {
    const {win, ready, data} = explorer;
    if (!win || win.closed || !ready || !data) return;
    win.postMessage({type: "explorer", payload: data.payload, title: data.title}, location.origin);
    explorer.data = null;
  }

  window.addEventListener("message", (event) => {
    if (event.origin !== location.origin || !explorer.win || event.source !== explorer.win) return;
    if (event.data && event.data.type === "ready") { explorer.ready = true; deliverGraph(); }
  });

  // -- loss curves ----------------------------------------------------------------------------

  function paintCurves() {
    const canvas = $("curves");
    const ratio = window.devicePixelRatio || 1;
    const w = 400, h = 110;
    if (canvas.width !== w * ratio) { canvas.width = w * ratio; canvas.height = h * ratio; }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const hist = (frame && frame.history) || [];
    const finite = (v) => typeof v === "number" && isFinite(v);
    const values = hist.flatMap((r) => [r[1], r[2]]).filter(finite);
    if (hist.length < 2 || !values.length) return;
    const top = Math.max(...values) || 1;
    const low = Math.min(...values.filter((v) => v > 0), top);
    // A run that blows up spans hundreds of decades: then the axis is logarithmic.
    const log = top / low > 1e3;
    const first = hist[0][0], last = hist[hist.length - 1][0] || 1;
    const X = (s) => 30 + (w - 36) * (s - first) / Math.max(last - first, 1);
    const frac = (v) => (log ? Math.log(Math.max(v, low) / low) / Math.log(top / low) : v / top);
    const Y = (v) => h - 14 - (h - 22) * frac(v);
    ctx.fillStyle = colours.muted;
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillText(top.toPrecision(2), 2, 12);
    ctx.fillText(log ? `${low.toPrecision(2)} (log scale)` : "0", 2, h - 12);
    ctx.fillText(`step ${last}`, w - 56, h - 2);
    for (const [col, colour, dash] of [[1, colours.class1, []], [2, colours.class0, [5, 3]]]) {
      ctx.strokeStyle = colour;
      ctx.setLineDash(dash);
      ctx.lineWidth = 2;
      ctx.beginPath();
      let started = false;
      for (const r of hist) {
        if (!finite(r[col])) { started = false; continue; }
        if (started) ctx.lineTo(X(r[0]), Y(r[col])); else ctx.moveTo(X(r[0]), Y(r[col]));
        started = true;
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }

  // -- legends --------------------------------------------------------------------------------

  function lineSample(colour, dashed, width) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", "30");
    svg.setAttribute("height", "10");
    const line = document.createElementNS(SVG, "line");
    for (const [a, v] of Object.entries({x1: 1, y1: 5, x2: 29, y2: 5})) line.setAttribute(a, String(v));
    line.style.stroke = colour;
    line.style.strokeWidth = String(width || 2.5);
    if (dashed) line.style.strokeDasharray = "5 3";
    svg.append(line);
    return svg;
  }

  function legendItem(sample, text) {
    const span = document.createElement("span");
    span.append(sample, text);
    return span;
  }

  function buildLegends() {
    const classes = [];
    for (let k = 0; k < state.classes; k++) classes.push(legendItem(markSvg(k, false), `class ${k}`));
    $("legend").replaceChildren(...classes);
    const gradients = document.querySelector("input[name=edge-mode]:checked").value === "gradients";
    $("edge-legend").replaceChildren(...(gradients ? [
      legendItem(lineSample("var(--grad)", false, 5), "large |∂loss/∂w|"),
      legendItem(lineSample("var(--grad)", false, 1), "10⁻⁴ of the largest (log scale)"),
      legendItem(lineSample("var(--grad)", true), "dashed: ∂loss/∂w < 0"),
    ] : [
      legendItem(lineSample("var(--class1)", false), "positive weight"),
      legendItem(lineSample("var(--class0)", true), "negative weight (dashed)"),
      legendItem(document.createTextNode(""), "thickness: |weight|"),
    ]));
    $("curves-legend").replaceChildren(
      legendItem(lineSample("var(--class1)", false), "training loss"),
      legendItem(lineSample("var(--class0)", true), "test loss"));
  }

  // -- explanations ---------------------------------------------------------------------------

  function explain(name) {
    selected = name;
    send({cmd: "explain", param: name, point: picked});
    paintEdges();
    paintNodes();
  }

  function showExplain(m) {
    const p = m.point;
    if (picked === null) { picked = p.id; updatePicked(); paintPlane(); }
    const l2 = typeof m.l2_part === "number" && m.l2_part !== 0 ? ` (of which the L2 term ${m.l2_part.toExponential(3)})` : "";
    const lines = [
      `${m.param} = ${number(m.value, 6)}`,
      `∂loss/∂${m.param} on the training set now: ${number(m.grad, 9)}${l2}`,
      `On example #${p.id} (x1 = ${p.x.toFixed(3)}, x2 = ${p.y.toFixed(3)}, class ${p.label}): loss ${number(m.example_loss, 6)}, ∂loss/∂${m.param} = ${number(m.example_grad, 9)}`,
      "",
      m.text,
    ];
    $("explain-title").textContent = `Inside ${m.param}`;
    $("explain-text").textContent = lines.join("\n");
    $("explain-refresh").hidden = false;
  }

  // -- wiring ---------------------------------------------------------------------------------

  function readColours() {
    const css = getComputedStyle(document.documentElement);
    for (const k of ["bg", "fg", "muted", "line", "class0", "class1", "class2", "grad", "error"]) {
      colours[k] = css.getPropertyValue(`--${k}`).trim();
    }
  }

  function numberSetting(id, key) {
    $(id).addEventListener("change", () => {
      const v = $(id).value.trim() === "" ? NaN : Number($(id).value);
      // JSON has no NaN: it travels as null and the server refuses it with a message.
      set({[key]: Number.isFinite(v) ? v : String($(id).value)});
    });
  }

  function wire() {
    $("play").addEventListener("click", () => send({cmd: "play"}));
    $("pause").addEventListener("click", () => send({cmd: "pause"}));
    $("step").addEventListener("click", () => send({cmd: "step"}));
    $("reset").addEventListener("click", () => { say(""); send({cmd: "reset"}); });
    $("regenerate").addEventListener("click", () => send({cmd: "regenerate"}));
    $("explain-refresh").addEventListener("click", () => selected && explain(selected));
    $("graph-link").addEventListener("click", openGraph);
    $("speed").addEventListener("input", () => {
      $("speed-value").textContent = speedText(SPEEDS[Number($("speed").value)]);
    });
    $("speed").addEventListener("change", () => set({speed: SPEEDS[Number($("speed").value)]}));
    numberSetting("lr", "lr");
    numberSetting("l2", "l2");
    $("batch").addEventListener("change", () => {
      const v = Number($("batch").value);
      set({batch: Number.isInteger(v) ? v : String($("batch").value)});
    });
    $("full-batch").addEventListener("change", () => {
      const nTrain = trainingCount();
      set({batch: $("full-batch").checked ? 10000 : Math.max(1, Math.min(10, nTrain))});
    });
    for (const [id, key] of [["activation", "activation"], ["loss-fn", "loss"], ["optimizer", "optimizer"]]) {
      $(id).addEventListener("change", () => set({[key]: $(id).value}));
    }
    for (const [id, key] of [["points", "points"], ["noise", "noise"], ["test-fraction", "test_fraction"]]) {
      $(id).addEventListener("input", () => { $(id + "-value").textContent = $(id).value; });
      $(id).addEventListener("change", () => set({[key]: Number($(id).value)}));
    }
    for (const b of document.querySelectorAll("[data-dataset]")) {
      b.addEventListener("click", () => {
        const changes = {dataset: b.dataset.dataset};
        if (b.dataset.dataset === "spiral3") changes.loss = "cross-entropy";
        set(changes);
      });
    }
    $("add-layer").addEventListener("click", () => set({hidden: [...state.settings.hidden, 4]}));
    $("remove-layer").addEventListener("click", () => set({hidden: state.settings.hidden.slice(0, -1)}));
    for (const r of document.querySelectorAll("input[name=edge-mode]")) {
      r.addEventListener("change", () => { buildLegends(); paintEdges(); });
    }
    $("plane").addEventListener("click", onPlaneClick);
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
      readColours();
      if (state) applyState(state);
    });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => { if (state) { buildNetwork(); paintEdges(); paintNodes(); } }, 150);
    });
  }

  readColours();
  wire();
  // Nothing to press until the first state has come (Python loads for a few seconds in a worker).
  for (const id of ["play", "pause", "step", "reset"]) $(id).disabled = true;
  if (inWorker) startWorker(); else connect();
})();
