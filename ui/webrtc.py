"""WebRTC for the Live tab: signalling on the app's own server and one session per browser.

    POST /webrtc/offer     {sdp, type, settings, lang}   -> {sdp, type, session} | 503 busy | 400 bad settings
    POST /webrtc/settings  {session, settings}           -> {ok}       the tab's settings, live
    POST /webrtc/close     {session}                     -> {ok}       Stop, or the page's beacon on close
    GET  /webrtc/stats?session=ID                        -> rates, latency, dropped, ended / error

Each session is an aiortc RTCPeerConnection whose incoming webcam track is masked by a
MaskedTrack (pipeline/jobs/webrtc_track.py) with its own LiveMasker (tracker, hold, motion)
on the process-wide detector; nothing is shared between sessions but the model. At most
$MOSAIC_WEBRTC_SESSIONS (default 2) run at once; one more is told "busy". A session ends
when its peer connection fails or closes, when its browser sends no frame for
IDLE_END_S (a closed tab), on Stop, or on the beacon the page sends when it is closed.

ICE: host candidates serve localhost and a LAN. Behind NAT (a Space) set $MOSAIC_TURN_URL
(comma-separated turn:/turns:/stun: URLs), $MOSAIC_TURN_USER and $MOSAIC_TURN_CREDENTIAL:
the server and the page's RTCPeerConnection both use them. No default STUN server is
contacted (aiortc would otherwise ask Google's).
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pipeline.detect.detector import ReplayDetector
from pipeline.errors import SettingsError
from pipeline.jobs.live import LiveMasker
from pipeline.jobs.live_job import LIVE_BATCH
from pipeline.settings import Settings

from .i18n import DEFAULT_LANGUAGE, TEXTS, tr
from .messages import public_message

log = logging.getLogger("ui.webrtc")
SESSIONS_ENV, TURN_URL_ENV, TURN_USER_ENV, TURN_CREDENTIAL_ENV = (
    "MOSAIC_WEBRTC_SESSIONS", "MOSAIC_TURN_URL", "MOSAIC_TURN_USER", "MOSAIC_TURN_CREDENTIAL")
REPLAY_ENV_VAR = "MOSAIC_LIVE_DETECTIONS"  # the same test mode as the JPEG path
IDLE_END_S = 4.0  # a session whose browser sends no frame this long has ended (a closed tab)
CONNECT_END_S = 15.0  # a session that never got a frame ends this long after its offer
WATCH_PERIOD_S = 1.0
STREAM_FPS = 30.0
MAX_BODY_BYTES = 200_000


def max_sessions() -> int:
    try:
        return max(1, int(os.environ.get(SESSIONS_ENV, "2")))
    except ValueError:
        return 2


def ice_servers() -> list[dict]:
    """The ICE servers from the environment, as the page's RTCPeerConnection takes them."""
    urls = [u.strip() for u in os.environ.get(TURN_URL_ENV, "").split(",") if u.strip()]
    if not urls:
        return []
    server = {"urls": urls}
    if os.environ.get(TURN_USER_ENV):
        server["username"] = os.environ[TURN_USER_ENV]
    if os.environ.get(TURN_CREDENTIAL_ENV):
        server["credential"] = os.environ[TURN_CREDENTIAL_ENV]
    return [server]


def settings_from_page(values: dict | None) -> Settings:
    """The tab's values (target, style, cells, pad, follow) as validated Settings."""
    values = values or {}
    d = Settings()
    try:
        return Settings(target=values.get("target", d.target), style=values.get("style", d.style),
                        mosaic_cells=int(float(values.get("cells", d.mosaic_cells))),
                        pad_pct=float(values.get("pad", d.pad_pct)), follow=values.get("follow") or None)
    except (TypeError, ValueError):
        raise SettingsError(tr("err.settings.numbers"), key="err.settings.numbers") from None


def make_masker(settings: Settings) -> LiveMasker:
    """A session's masker (on its worker thread): the shared model, or the test replay."""
    replay = os.environ.get(REPLAY_ENV_VAR, "").strip()
    if replay:
        detector = ReplayDetector(replay)
    else:
        from pipeline.models import load_detector  # the process-wide model, shared with file jobs

        detector = load_detector(settings)
    return LiveMasker(detector, settings, fps=STREAM_FPS, batch=LIVE_BATCH)


class Session:
    def __init__(self, pc, settings: Settings, lang: str):
        self.id = uuid.uuid4().hex
        self.pc, self.settings, self.lang = pc, settings, lang
        self.track = None  # MaskedTrack once the browser's video arrives
        self.started = time.monotonic()
        self.closed = False


class Sessions:
    """Every running session, on the server's event loop (no locks: one thread uses it)."""

    def __init__(self):
        self.live: dict[str, Session] = {}
        self.ended: dict[str, str | None] = {}  # id -> the error it ended with, for /stats
        self._watcher: asyncio.Task | None = None

    async def open(self, body: dict) -> JSONResponse:
        lang = body.get("lang") if body.get("lang") in TEXTS else DEFAULT_LANGUAGE
        try:
            from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

            from pipeline.jobs.webrtc_track import MaskedTrack
        except ImportError:  # aiortc not installed: the JPEG stream still works
            return JSONResponse({"error": "unavailable", "message": "WebRTC is not installed on this server (aiortc)"},
                                status_code=503)
        try:
            settings = settings_from_page(body.get("settings"))
        except SettingsError as err:
            return JSONResponse({"error": "settings", "message": public_message(err, lang)}, status_code=400)
        if len(self.live) >= max_sessions():
            return JSONResponse({"error": "busy", "message": tr("live.webrtc.busy", lang, sessions=max_sessions())},
                                status_code=503)
        if not isinstance(body.get("sdp"), str) or body.get("type") != "offer":
            return JSONResponse({"error": "offer", "message": "an SDP offer is required"}, status_code=400)
        servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
                   for s in ice_servers()]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))  # [] : no default STUN server
        session = Session(pc, settings, lang)
        self.live[session.id] = session
        self._watch()

        @pc.on("track")
        def on_track(track):
            if track.kind == "video" and session.track is None:
                session.track = MaskedTrack(track, make_masker, session.settings)
                pc.addTrack(session.track)

        @pc.on("connectionstatechange")
        async def on_state():
            if pc.connectionState in ("failed", "closed"):
                await self.close(session.id)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type="offer"))
            if session.track is None:
                raise ValueError("the offer has no video track")
            await pc.setLocalDescription(await pc.createAnswer())  # gathers every candidate first
        except Exception as err:  # noqa: BLE001 - a bad offer is the caller's; one line back
            log.warning("webrtc offer refused: %s", err)
            await self.close(session.id)
            return JSONResponse({"error": "offer", "message": f"the offer was refused: {err}"}, status_code=400)
        answer = pc.localDescription
        return JSONResponse({"sdp": answer.sdp, "type": answer.type, "session": session.id})

    def update(self, session_id: str, values: dict | None, lang: str) -> JSONResponse:
        session = self.live.get(str(session_id))
        if session is None:
            return JSONResponse({"error": "gone"}, status_code=404)
        try:
            session.settings = settings_from_page(values)
        except SettingsError as err:
            return JSONResponse({"error": "settings", "message": public_message(err, lang)}, status_code=400)
        if session.track is not None:
            session.track.update(session.settings)
        return JSONResponse({"ok": True})

    async def close(self, session_id: str) -> bool:
        """Ends a session: its track (reader, worker thread, masker) now, its connection next."""
        session = self.live.pop(str(session_id), None)
        if session is None:
            return False
        if session.track is not None:
            session.track.stop()
            self.ended[session.id] = session.track.error
        else:
            self.ended[session.id] = None
        while len(self.ended) > 100:
            self.ended.pop(next(iter(self.ended)))
        asyncio.ensure_future(session.pc.close())  # its goodbyes must not hold up the caller
        log.info("webrtc session %s closed (%d running)", session.id[:8], len(self.live))
        return True

    def stats(self, session_id: str) -> dict:
        session = self.live.get(str(session_id))
        if session is None:
            return {"ended": True, "error": self.ended.get(str(session_id))}
        track = session.track
        if track is None:
            return {"ended": False, "connection": session.pc.connectionState, "frames": 0}
        fps, detect_hz = track.rates()
        latency = np.array(track.latency_ms or [0.0])
        return {"ended": False, "connection": session.pc.connectionState, "fps": round(fps, 1),
                "detect_hz": round(detect_hz, 1), "frames": track.frames_out, "frames_in": track.frames_in,
                "dropped": track.dropped, "latency_p50_ms": round(float(np.percentile(latency, 50)), 1),
                "latency_p95_ms": round(float(np.percentile(latency, 95)), 1), "error": track.error,
                "sessions": len(self.live)}

    def _watch(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch_loop())

    async def _watch_loop(self) -> None:
        """Ends sessions whose browser went away without a word, and ones whose track ended."""
        while self.live:
            await asyncio.sleep(WATCH_PERIOD_S)
            now = time.monotonic()
            for session in list(self.live.values()):
                track = session.track
                ended = track is not None and track.ended.is_set()
                if track is None or track.frames_in == 0:  # not connected yet: the page's timeout first
                    idle = now - session.started > CONNECT_END_S
                else:
                    idle = now - track.last_in > IDLE_END_S
                if ended or idle:
                    await self.close(session.id)


SESSIONS = Sessions()


async def _json(request: Request) -> dict:
    """The body as JSON, whatever its content type (a beacon sends text/plain)."""
    import json

    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:  # an SDP offer is a few KB; anything far larger is not one
        return {}
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def mount(app: FastAPI) -> None:
    """Add the signalling routes to the app's server (Gradio's FastAPI app)."""
    async def offer(request: Request):
        return await SESSIONS.open(await _json(request))

    async def update(request: Request):
        body = await _json(request)
        lang = body.get("lang") if body.get("lang") in TEXTS else DEFAULT_LANGUAGE
        return SESSIONS.update(body.get("session", ""), body.get("settings"), lang)

    async def close(request: Request):
        body = await _json(request)
        return JSONResponse({"ok": await SESSIONS.close(body.get("session", ""))})

    async def stats(session: str = ""):
        return JSONResponse(SESSIONS.stats(session))

    app.add_api_route("/webrtc/offer", offer, methods=["POST"], include_in_schema=False)
    app.add_api_route("/webrtc/settings", update, methods=["POST"], include_in_schema=False)
    app.add_api_route("/webrtc/close", close, methods=["POST"], include_in_schema=False)
    app.add_api_route("/webrtc/stats", stats, methods=["GET"], include_in_schema=False)
