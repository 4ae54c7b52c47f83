// The demo page: the client kit, served by the edge, driven by a form. No build step, no
// microphone: once the bridge is ready it sends a generated 0x01 frame every 80 ms, and counts
// the 0x01 frames both ways per 100 ms.

const SEND_EVERY_MS = 80;
const METER_WINDOW_MS = 100;
const HISTORY_WINDOWS = 60;
const AUDIO_KIND = 0x01;

const $ = (selector) => document.querySelector(selector);

/** What the tests (and a curious reader in devtools) can read: every state and attempt, in order. */
const demo = (window.demo = { states: [], attempts: [], tokenCalls: 0 });

// One visitor per page load: the token's subject, so each page holds its own place in line.
const subject = `demo-${Math.random().toString(36).slice(2, 10)}`;

let connection;
let sender;

const config = await (await fetch("/config.json")).json();
$("#ws-url").textContent = config.wsUrl;

const form = $("#options");
const params = new URLSearchParams(location.search);
form.text_prompt.value = params.get("text_prompt") ?? config.sessionOptions.text_prompt;
const voices = [...config.voices];
const chosenVoice = params.get("voice_prompt") ?? config.sessionOptions.voice_prompt;
if (!voices.includes(chosenVoice)) voices.push(chosenVoice);
for (const voice of voices) form.voice_prompt.add(new Option(voice, voice));
form.voice_prompt.value = chosenVoice;

let kit;
try {
  kit = await import(config.kitUrl);
} catch (error) {
  showState({
    state: "failed",
    reason: "kit_not_loaded",
    closeCode: null,
    detail: { kitUrl: config.kitUrl, error: String(error) },
  });
  throw error;
}
$("#connect").disabled = false;

async function getToken() {
  demo.tokenCalls += 1;
  $("#tokens").textContent = `tokens fetched: ${demo.tokenCalls}`;
  const response = await fetch("/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ subject }),
  });
  if (!response.ok) throw new Error(`POST /token answered ${response.status}`);
  return (await response.json()).token;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  demo.attempts.length = 0;
  demo.tokenCalls = 0;
  $("#tokens").textContent = "tokens fetched: 0";
  $("#attempts tbody").replaceChildren();
  $("#connect").disabled = true;
  $("#disconnect").disabled = false;
  connection = kit.connectVoice({
    url: config.wsUrl,
    ...(config.tokens ? { getToken } : { noToken: true }),
    query: { text_prompt: form.text_prompt.value, voice_prompt: form.voice_prompt.value },
    onState: showState,
    onFrame: (frame) => {
      if (frame[0] === AUDIO_KIND) count(meter.in, frame.byteLength);
    },
    onAttempt: showAttempt,
  });
  connection.done.then(() => {
    $("#connect").disabled = false;
    $("#disconnect").disabled = true;
  });
});

$("#disconnect").addEventListener("click", () => connection?.close());

function describe(state) {
  switch (state.state) {
    case "connecting":
      return `attempt ${state.attempt}`;
    case "waiting":
      return [
        state.position !== null ? `position ${state.position} in line` : "every bridge busy",
        state.etaS !== null ? `about ${state.etaS} s` : "",
        state.retryInS !== null ? `retry in ${state.retryInS} s` : "",
      ]
        .filter(Boolean)
        .join(" · ");
    case "ready":
      return `attempt ${state.attempt}: the bridge's 0x00 arrived`;
    case "live":
      return `attempt ${state.attempt}: frames flowing`;
    case "reconnecting":
      return `dropped with ${state.closeCode}; a new conversation in ${state.retryInS} s`;
    case "failed":
      return `${state.reason}${state.closeCode !== null ? ` (close ${state.closeCode})` : ""} ${JSON.stringify(state.detail)}`;
    case "closed":
      return [state.closeCode !== null ? `close ${state.closeCode}` : "", state.reason ?? ""]
        .filter(Boolean)
        .join(" · ");
    default:
      return "";
  }
}

function showState(state) {
  demo.states.push(structuredClone(state));
  const badge = $("#state");
  badge.dataset.state = state.state;
  badge.dataset.attempt = state.attempt ?? "";
  badge.textContent = state.state;
  document.body.dataset.state = state.state;
  const detail = $("#state-detail");
  detail.textContent = describe(state);
  detail.dataset.position = state.state === "waiting" ? (state.position ?? "") : "";
  detail.dataset.reason = state.reason ?? "";
  const entry = document.createElement("li");
  entry.textContent = `${new Date().toISOString().slice(11, 23)}  ${JSON.stringify(state)}`;
  $("#log").prepend(entry);

  const sending = state.state === "ready" || state.state === "live";
  if (sending && !sender) sender = setInterval(sendFrame, SEND_EVERY_MS);
  if (!sending && sender) sender = void clearInterval(sender);
}

function showAttempt(report) {
  const known = demo.attempts.findIndex(
    (seen) => seen.attempt === report.attempt && seen.socket === report.socket,
  );
  if (known >= 0) demo.attempts[known] = structuredClone(report);
  else demo.attempts.push(structuredClone(report));
  const key = `${report.attempt}-${report.socket}`;
  let row = $(`#attempts tbody tr[data-key="${key}"]`);
  if (!row) {
    row = document.createElement("tr");
    row.dataset.key = key;
    $("#attempts tbody").append(row);
  }
  row.dataset.closeCode = report.closeCode ?? "";
  row.replaceChildren(
    ...[
      report.attempt,
      report.socket,
      report.opened ? "yes" : "no",
      report.msOpen === null ? "–" : Math.round(report.msOpen),
      report.closeCode ?? "–",
      report.reason === null ? "–" : JSON.stringify(report.reason),
    ].map((value, index) => {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      if (index === 5) cell.className = "reason";
      return cell;
    }),
  );
}

// The level meter: 0x01 frames and their bytes per 100 ms, each way, and a short history.
const meter = {
  in: { frames: 0, bytes: 0, totalFrames: 0, id: "in" },
  out: { frames: 0, bytes: 0, totalFrames: 0, id: "out" },
  history: [],
};

function count(side, bytes) {
  side.frames += 1;
  side.bytes += bytes;
  side.totalFrames += 1;
}

let phase = 0;
function sendFrame() {
  const frame = new Uint8Array(161);
  frame[0] = AUDIO_KIND;
  for (let i = 1; i < frame.length; i++)
    frame[i] = 128 + Math.round(100 * Math.sin((phase += 0.07)));
  connection.send(frame);
  count(meter.out, frame.byteLength);
}

setInterval(() => {
  meter.history.push({ in: meter.in.bytes, out: meter.out.bytes });
  if (meter.history.length > HISTORY_WINDOWS) meter.history.shift();
  const scale = Math.max(512, ...meter.history.flatMap((window) => [window.in, window.out]));
  for (const side of [meter.in, meter.out]) {
    $(`#${side.id}-bar`).style.width = `${Math.min(100, (100 * side.bytes) / scale)}%`;
    $(`#${side.id}-rate`).textContent = `${side.frames} frames · ${side.bytes} B`;
    const total = $(`#${side.id}-total`);
    total.textContent = `${side.totalFrames} frames`;
    total.dataset.frames = side.totalFrames;
    side.frames = 0;
    side.bytes = 0;
  }
  drawHistory(scale);
}, METER_WINDOW_MS);

function drawHistory(scale) {
  const canvas = $("#history");
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  const step = canvas.width / HISTORY_WINDOWS;
  meter.history.forEach((window, index) => {
    const x = index * step;
    const inHeight = (canvas.height * window.in) / scale;
    const outHeight = (canvas.height * window.out) / scale;
    context.fillStyle = "#2e5bff";
    context.fillRect(x, canvas.height - inHeight, step / 2 - 1, inHeight);
    context.fillStyle = "#12b76a";
    context.fillRect(x + step / 2, canvas.height - outHeight, step / 2 - 1, outHeight);
  });
}
