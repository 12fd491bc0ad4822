// playground-worker.js: the playground's Python in a Web Worker, for the static site.
//
// The page (playground.js, <body data-transport="worker">) starts it as a module worker and
// posts each command as JSON text; this worker posts back JSON texts, the same messages the
// server sends over its WebSocket. Python is the project's own wheel in Pyodide (boot.js);
// apps.playground.browser.Worker runs the same Session through the same Runner as the server.
// Training runs in slices of about 20 ms with a turn of this worker's event loop between them,
// so a command from the page (pause!) is taken within about one slice.
// Where the run's graph has an exact JavaScript replay (relu with the hinge loss), Python hands
// its source to loadReplay (js-replay.js) and trains through it: bit for bit the same numbers,
// faster. The page's ?replay=python (passed on in this worker's URL) keeps the Python replay.
import "./boot.js";
import { loadReplay } from "./js-replay.js";

let driver = null;     // apps.playground.browser.Worker, once Python has loaded
const inbox = [];      // commands that came while Python was loading
let plan = 0;          // the number of the tick planned last: an older plan is dropped

// A task with no delay: setTimeout(0) is clamped to 4 ms once timers nest, a fifth of a slice.
const channel = new MessageChannel();
channel.port1.onmessage = (event) => run(event.data);

function tell(message) { postMessage(JSON.stringify(message)); }

// Call Python and post what it returns; Python answers its own errors, this catches the rest.
function call(method, ...args) {
  try {
    const texts = driver[method](...args);
    try {
      for (const text of texts) postMessage(text);
    } finally {
      texts.destroy();
    }
  } catch (err) {
    tell({type: "error", message: `internal error in the worker: ${lastLine(err)}`});
  }
}

function lastLine(err) {
  const text = String((err && err.message) || err).trim();
  return text.split("\n").pop().slice(0, 300);
}

// The next tick, as soon as Python asks for one (never, until a command, while paused).
function schedule() {
  const me = ++plan;
  let delay;
  try {
    delay = driver.wait();
  } catch (err) {
    tell({type: "error", message: `internal error in the worker: ${lastLine(err)}`});
    return;
  }
  if (delay === undefined || delay === null) return;
  if (delay <= 0) channel.port2.postMessage(me);
  else setTimeout(() => run(me), delay * 1000);
}

function run(me) {
  if (me !== plan || !driver) return;  // a command came in between and planned afresh
  call("tick");
  schedule();
}

function receive(text) {
  call("receive", String(text));
  schedule();
}

self.onmessage = (event) => {
  if (driver) receive(event.data);
  else inbox.push(event.data);
};

async function start() {
  try {
    const pyodide = await self.startPython((p) => tell({type: "loading", ...p}));
    tell({type: "loading", what: "starting the playground", done: 1, total: 1});
    const browser = pyodide.pyimport("apps.playground.browser");
    const python = new URL(self.location.href).searchParams.get("replay") === "python";
    driver = browser.Worker(self.vizPlain, null, python ? null : loadReplay);
    browser.destroy();
  } catch (err) {
    tell({type: "error", message: `Python could not start in this page: ${lastLine(err)}. Reload to try again.`});
    return;
  }
  call("start");
  while (inbox.length) receive(inbox.shift());
  schedule();
}

start();
