"""The Live tab's WebRTC panel: a start and a stop button, the masked <video>, a status
line, and the page script that connects them (signalling in ui/webrtc.py).

The script sends the webcam to the server, plays the masked track it gets back, posts
the tab's settings (target, style, cells, padding, follow) to its session whenever they
change, polls the session's rates, and says within seconds why a connection failed (no
camera, busy, ICE failed, timed out). A closed tab sends a beacon that ends its session.
Its texts come from ui/i18n.py in the browser's language, like the rest of the page; on a
Korean page it also translates the texts Gradio's webcam has no translation for.
"""
from __future__ import annotations

import json

import gradio as gr

from .i18n import EN, TEXTS
from .webrtc import ice_servers

CONNECT_TIMEOUT_MS = 8000  # the page gives up (and says so) when ICE has not connected by then
STATS_PERIOD_MS = 1000
# Gradio's webcam texts that its own Korean table lacks (or gives as audio recording)
GRADIO_WEBCAM_TEXTS = {"Click to Access Webcam": "live.gradio.access", "Stop Recording": "live.gradio.stop",
                       "녹음 중지": "live.gradio.stop"}

HTML = """
<div id="webrtc-panel">
  <div class="webrtc-buttons">
    <button id="webrtc-start" class="lg primary">▶</button>
    <button id="webrtc-stop" class="lg stop" disabled>■</button>
  </div>
  <video id="webrtc-output" autoplay playsinline muted></video>
  <div id="webrtc-status" role="status"></div>
</div>
"""

CSS = """
#webrtc-panel video { width: 100%; max-height: 480px; background: #111; border-radius: 6px; }
#webrtc-panel .webrtc-buttons { display: flex; gap: 8px; margin-bottom: 6px; }
#webrtc-panel .webrtc-buttons button { padding: 6px 14px; border-radius: 6px; }
#webrtc-start { background: #2563eb; color: white; }
#webrtc-stop { background: #b91c1c; color: white; }
#webrtc-panel button:disabled { opacity: 0.5; }
#webrtc-status { font-family: monospace; margin-top: 4px; min-height: 1.4em; }
#webrtc-status.failed { color: #b91c1c; font-weight: bold; }
"""

JS = r"""
const CONFIG = __CONFIG__;
const primary = (navigator.language || 'en').toLowerCase().split(/[-_]/)[0];
const T = CONFIG.texts[primary] || CONFIG.texts.en;
const $ = (sel) => element.querySelector(sel);
const start = $('#webrtc-start'), stop = $('#webrtc-stop'), video = $('#webrtc-output'), status = $('#webrtc-status');
start.textContent = T['live.webrtc.start']; stop.textContent = T['live.webrtc.stop'];
let pc = null, stream = null, session = null, timer = null, poll = null, sendTimer = null;
const fill = (text, values) => text.replace(/\{(\w+)(:[^}]*)?\}/g, (m, k) => (k in values ? values[k] : m));
function say(key, values, failed) {
  status.textContent = fill(T[key] || key, values || {});
  status.className = failed ? 'failed' : '';
}
function pick(id) {
  const checked = document.querySelector('#' + id + ' input:checked');
  return checked ? checked.value : null;
}
function number(id) {
  const box = document.querySelector('#' + id + ' input[type=number]');
  return box ? box.value : null;
}
function settings() {
  return {target: pick('live-target'), style: pick('live-style'), cells: number('live-cells'),
          pad: number('live-pad'), follow: pick('live-follow') || ''};
}
async function post(path, body) {
  return fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json'},
                      body: JSON.stringify({...body, lang: primary})});
}
function end(key, values, failed) {
  clearTimeout(timer); clearInterval(poll);
  if (session) { post('webrtc/close', {session}).catch(() => {}); }
  session = null;
  if (pc) { pc.close(); pc = null; }
  if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
  start.disabled = false; stop.disabled = true;
  if (key) { say(key, values, failed); }
}
async function begin() {
  start.disabled = true; stop.disabled = false;
  say('live.webrtc.camera');
  try {
    stream = await navigator.mediaDevices.getUserMedia(
      {video: {width: {ideal: 640}, height: {ideal: 480}, frameRate: {ideal: 30}}, audio: false});
  } catch (err) { return end('live.webrtc.no_camera', {reason: err.name || err}, true); }
  say('live.webrtc.connecting');
  pc = new RTCPeerConnection({iceServers: CONFIG.iceServers});
  const mine = pc;
  stream.getVideoTracks().forEach((t) => pc.addTrack(t, stream));
  pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
  pc.oniceconnectionstatechange = () => {
    if (pc !== mine) return;
    if (pc.iceConnectionState === 'failed') end('live.webrtc.ice_failed', {}, true);
  };
  pc.onconnectionstatechange = () => {
    if (pc !== mine) return;
    if (pc.connectionState === 'connected') { clearTimeout(timer); say('live.webrtc.waiting'); }
    if (pc.connectionState === 'failed') end('live.webrtc.ice_failed', {}, true);
    if (pc.connectionState === 'disconnected') say('live.webrtc.lost', {}, true);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {  // every host candidate, or 2 s
    if (pc.iceGatheringState === 'complete') return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
    setTimeout(done, 2000);
  });
  if (pc !== mine) return;
  let answer;
  try {
    const response = await post('webrtc/offer', {sdp: pc.localDescription.sdp, type: 'offer', settings: settings()});
    answer = await response.json();
    if (!response.ok) {  // busy: the server's own words (in this page's language), else why it refused
      end();
      return answer.error === 'busy' ? say('{message}', {message: answer.message}, true)
                                     : say('live.webrtc.refused', {message: answer.message || ''}, true);
    }
  } catch (err) { return end('live.webrtc.no_server', {}, true); }
  if (pc !== mine) { post('webrtc/close', {session: answer.session}); return; }
  session = answer.session;
  await pc.setRemoteDescription({sdp: answer.sdp, type: answer.type});
  timer = setTimeout(() => {
    if (pc === mine && pc.connectionState !== 'connected') end('live.webrtc.timeout', {seconds: CONFIG.timeoutMs / 1000}, true);
  }, CONFIG.timeoutMs);
  poll = setInterval(async () => {
    if (!session) return;
    try {
      const s = await (await fetch('webrtc/stats?session=' + session)).json();
      if (s.ended) return end(s.error ? 'live.webrtc.error' : 'live.webrtc.ended', {message: s.error || ''}, !!s.error);
      if (s.frames > 0) say('live.webrtc.stats', {fps: (s.fps || 0).toFixed(1), detect_hz: (s.detect_hz || 0).toFixed(1),
                                                   latency: Math.round(s.latency_p50_ms || 0), dropped: s.dropped || 0});
    } catch (err) { /* the next poll tells */ }
  }, CONFIG.statsMs);
}
start.addEventListener('click', () => begin().catch((err) => end('live.webrtc.refused', {message: String(err)}, true)));
stop.addEventListener('click', () => end('live.webrtc.stopped'));
const changed = (e) => {
  if (!session || !e.target.closest('#live-target, #live-style, #live-cells, #live-pad, #live-follow')) return;
  clearTimeout(sendTimer);
  sendTimer = setTimeout(() => post('webrtc/settings', {session, settings: settings()}), 150);
};
document.addEventListener('change', changed, true);
document.addEventListener('input', changed, true);
window.addEventListener('pagehide', () => {
  if (session) navigator.sendBeacon('webrtc/close', JSON.stringify({session}));
});
window.__mosaicWebrtc = {session: () => session, state: () => (pc ? pc.connectionState : 'none')};
if (T['live.gradio.access']) {  // Gradio's webcam has no translation for these
  const swap = () => {
    const tab = document.getElementById('live-tab') || document.body;
    const walker = document.createTreeWalker(tab, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const key = CONFIG.gradioTexts[node.nodeValue.trim()];
      if (key && T[key] && node.nodeValue.trim() !== T[key]) node.nodeValue = ' ' + T[key];
    }
  };
  new MutationObserver(swap).observe(document.body, {childList: true, subtree: true, characterData: true});
  swap();
}
"""


# Gradio's footer has a hidden "Stop Recording" (its screen recorder) from the start, outside
# the Live tab and before that tab's script runs (the tab renders when opened): page-wide, on load
FOOTER_JS = r"""() => {
  const CONFIG = __CONFIG__;
  const primary = (navigator.language || 'en').toLowerCase().split(/[-_]/)[0];
  const T = CONFIG.texts[primary] || {};
  const swap = () => document.querySelectorAll('footer').forEach((root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const key = CONFIG.gradioTexts[node.nodeValue.trim()];
      if (key && T[key] && node.nodeValue.trim() !== T[key]) node.nodeValue = ' ' + T[key] + ' ';
    }
  });
  if (!T['live.gradio.stop']) return;
  new MutationObserver(swap).observe(document.body, {childList: true, subtree: true, characterData: true});
  swap();
}"""


def footer_js() -> str:
    """The page's load script that puts Gradio's footer texts in the page's language."""
    config = page_config()
    return FOOTER_JS.replace("__CONFIG__", json.dumps({"texts": config["texts"], "gradioTexts": GRADIO_WEBCAM_TEXTS},
                                                      ensure_ascii=False))


def page_config() -> dict:
    keys = [k for k in EN if k.startswith(("live.webrtc.", "live.gradio."))]
    texts = {lang: {k: table.get(k, EN[k]) for k in keys} for lang, table in TEXTS.items()}
    if "ko" in texts:  # English pages keep Gradio's own words
        texts["en"] = {k: v for k, v in texts["en"].items() if not k.startswith("live.gradio.")}
    return {"texts": texts, "iceServers": ice_servers(), "timeoutMs": CONNECT_TIMEOUT_MS,
            "statsMs": STATS_PERIOD_MS, "gradioTexts": GRADIO_WEBCAM_TEXTS}


def build_webrtc_panel() -> gr.HTML:
    """The panel; the ICE servers are read from the environment when the page is built."""
    script = JS.replace("__CONFIG__", json.dumps(page_config(), ensure_ascii=False))
    return gr.HTML(HTML, js_on_load=script, css_template=CSS, elem_id="webrtc", padding=False)
