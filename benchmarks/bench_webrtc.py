"""End-to-end figures of the Live tab's WebRTC path, on localhost.

    python benchmarks/bench_webrtc.py [--seconds 20] [--target face] [--url http://127.0.0.1:7860/]

Starts `python app.py` (unless --url names a running one), then plays
ui/assets/faces_clip.mp4 at 640x480, 30 fps, in real time as an aiortc client, the way a
browser's webcam would: each frame carries its index as black/white blocks in a strip at
the top, is encoded (VP8), sent, decoded by the server, masked (face target, defaults),
encoded again and sent back. The client decodes what comes back and reads the index, so
each frame's end-to-end latency is exact: from the moment it was handed to the sender to
the moment its masked copy was decoded. Printed: fps received, latency p50 / p95, frames
dropped on the way, the server's own figures (/webrtc/stats), and the CPU.
Target on localhost: p95 <= 250 ms, >= 25 fps.
"""
from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import cpu_line  # noqa: E402

CLIP = REPO / "ui" / "assets" / "faces_clip.mp4"
FPS, SIZE = 30, (640, 480)
DEBUG = bool(os.environ.get("BENCH_DEBUG"))


def clip_frames() -> list[np.ndarray]:
    import av
    import cv2

    with av.open(str(CLIP)) as container:
        return [cv2.resize(f.to_ndarray(format="bgr24"), SIZE, interpolation=cv2.INTER_AREA)
                for f in container.decode(video=0)]


async def stream(url: str, seconds: float, settings: dict) -> dict:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
    from av import VideoFrame
    from live_media import draw_index, read_index

    pictures = clip_frames()
    sent: dict[int, float] = {}
    got: dict[int, float] = {}

    class Camera(VideoStreamTrack):
        def __init__(self):
            super().__init__()
            self.index, self.t0 = 0, None

        async def recv(self):
            self.t0 = self.t0 or time.monotonic()
            due = self.t0 + self.index / FPS
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            image = draw_index(pictures[self.index % len(pictures)].copy(), self.index % 1024)
            frame = VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = self.index * 3000, fractions.Fraction(1, 90000)
            sent[self.index] = time.monotonic()
            self.index += 1
            return frame

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(Camera())
    done = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        async def read():
            base = 0
            last = -1
            while True:
                try:
                    frame = await track.recv()
                except Exception as err:  # noqa: BLE001 - the stream ended
                    print(f"receiving ended: {type(err).__name__} {err}", file=sys.stderr, flush=True)
                    return
                index = read_index(frame.to_ndarray(format="bgr24"))
                print("got", index, file=sys.stderr, flush=True) if DEBUG else None
                while base + index < last - 512:  # the 10-bit index wrapped
                    base += 1024
                last = base + index
                got.setdefault(last, time.monotonic())
        asyncio.ensure_future(read())

    await pc.setLocalDescription(await pc.createOffer())
    body = json.dumps({"sdp": pc.localDescription.sdp, "type": "offer", "settings": settings}).encode()
    request = urllib.request.Request(url + "webrtc/offer", body, {"Content-Type": "application/json"})
    answer = json.loads(await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=60).read()))
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    print(f"session {answer['session']}", file=sys.stderr, flush=True)
    start = time.monotonic()
    while not got and time.monotonic() - start < 120:
        await asyncio.sleep(0.1)
    first = time.monotonic()
    got.clear()
    await asyncio.sleep(seconds)
    stats = json.loads(await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"{url}webrtc/stats?session={answer['session']}", timeout=30).read()))
    window = {i: t for i, t in got.items() if i in sent}
    latencies = np.array([(t - sent[i]) * 1000 for i, t in window.items()])
    indices = sorted(window)
    close = json.dumps({"session": answer["session"]}).encode()
    await asyncio.to_thread(lambda: urllib.request.urlopen(
        urllib.request.Request(url + "webrtc/close", close, {"Content-Type": "application/json"}), timeout=30).read())
    await pc.close()
    done.set()
    span = (max(window.values()) - min(window.values())) if len(window) > 1 else 0
    return {"cpu": cpu_line(), "cores": os.cpu_count(), "first_frame_s": round(first - start, 1),
            "frames_received": len(window), "fps": round((len(window) - 1) / span, 1) if span else 0.0,
            "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(latencies) else None,
            "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1) if len(latencies) else None,
            "sent_in_window": indices[-1] - indices[0] + 1 if indices else 0, "server": stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--target", default="face")
    parser.add_argument("--url", default=None, help="a running app (default: start one)")
    args = parser.parse_args()
    settings = {"target": args.target}
    if args.url:
        result = asyncio.run(stream(args.url.rstrip("/") + "/", args.seconds, settings))
    else:
        from app_server import running_app

        with tempfile.TemporaryDirectory() as folder, running_app(Path(folder)) as server:
            result = asyncio.run(stream(server.url, args.seconds, settings))
    print(json.dumps(result))
    print(f"{result['cpu']} ({result['cores']} cores): {result['fps']} fps received, latency p50 "
          f"{result['latency_p50_ms']} ms p95 {result['latency_p95_ms']} ms (target p95 <= 250 ms), "
          f"{result['frames_received']} of {result['sent_in_window']} frames sent in the window came back")


if __name__ == "__main__":
    main()
