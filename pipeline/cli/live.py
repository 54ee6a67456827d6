"""`python -m pipeline live SOURCE -o OUT`: anonymize a camera or a stream in real time.

Once a second a stats line on stderr (input and output fps, detection rate, latency p50/p95,
frames dropped); at the end a one-line JSON summary on stdout. Exit 0 when the source ends,
goes quiet for --timeout, at --duration, or on Ctrl-C (the output is closed and kept in
every case); exit 2 with one `error:` line when the source cannot be opened or never sends
video within --timeout (no output file is made) or the settings are wrong.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from ..audio.voice import VOICES
from ..errors import Cancelled, MosaicError, SettingsError
from ..io.stream_source import FAILED, QUIET
from ..jobs.live_job import LIVE_BATCH, run_live
from ..settings import Settings
from .args import EXIT_BAD_INPUT, EXIT_CANCELLED, add_detector_flags, add_mask_flags, mask_settings

# A live run writes only the masked picture: no audio track is carried from the source.
LIVE_NO_AUDIO = ("note: live output has no audio track (only the masked video is written), so --voice {voice} "
                 "has nothing to change: no voice is in the output.")


def build_live_parser() -> argparse.ArgumentParser:
    d = Settings.__dataclass_fields__
    p = argparse.ArgumentParser(
        prog="python -m pipeline live",
        description="Cover every person in a live camera or network stream, frame by frame, as it "
        "arrives; write the masked video to a file or on to a stream.",
    )
    p.add_argument("source", help="camera index (0) or device (/dev/video0), an rtsp/rtmp/http(s)/udp/srt "
                   "URL, or a video file")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="an .mp4 or .mkv file, or an rtmp/rtsp/udp/srt URL to stream to")
    p.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")
    p.add_argument("--realtime", action="store_true",
                   help="play a file source at its own frame rate, like a camera (default: as fast as it goes)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="give up on a source that sends no video for S seconds: before the first frame "
                   "it is an error, after it the run ends and keeps the output (default: %(default)s)")
    p.add_argument("--strict", action="store_true",
                   help="every frame waits for its own detection: exact boxes, more latency, and frames "
                   "dropped when detection is slower than the source")
    add_detector_flags(p)
    p.set_defaults(batch=LIVE_BATCH)
    add_mask_flags(p)
    p.add_argument("--scale", type=int, default=d["scale_pct"].default, metavar="PCT",
                   help="output size in percent of the source, 50-100 (default: %(default)s)")
    p.add_argument("--hold", type=float, default=d["hold_s"].default, metavar="SECONDS",
                   help="keep each tracked person masked this long after the detector last saw them "
                   "(default: %(default)s)")
    p.add_argument("--detections", default=None, metavar="FILE.csv",
                   help="replay boxes from a CSV keyed by frame index (frames counted from the first "
                   "one received) instead of running the model: for tests")
    p.add_argument("--voice", choices=VOICES, default="keep",
                   help="live output carries no audio track, so every voice is already left out; disguise or "
                   "mute only say so (file runs apply them to the --video output's sound)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_live_parser().parse_args(argv)
    stop = threading.Event()
    try:
        if args.batch > 8:
            raise SettingsError(f"Invalid settings: live batch must be 1-8 (got {args.batch}).")
        if args.timeout <= 0 or (args.duration is not None and args.duration <= 0):
            raise SettingsError("Invalid settings: --timeout and --duration must be more than 0 seconds.")
        settings = Settings(scale_pct=args.scale, hold_s=args.hold, detections_csv=args.detections,
                            **mask_settings(args))
        _stop_on_signals(stop)
        if args.voice != "keep":
            print(LIVE_NO_AUDIO.format(voice=args.voice), file=sys.stderr, flush=True)
        result = run_live(args.source, args.output, settings, strict=args.strict, duration_s=args.duration,
                          realtime=args.realtime, timeout_s=args.timeout, stop=stop, batch=args.batch,
                          on_stats=lambda stats: print(stats.line(), file=sys.stderr, flush=True))
    except (MosaicError, SettingsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_CANCELLED if isinstance(err, Cancelled) else EXIT_BAD_INPUT
    print(json.dumps(result.summary()), flush=True)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    kept = f"; output kept: {result.output}" if result.output else "; no frame arrived, nothing written"
    if result.ended == QUIET:
        print(f"the source went quiet (no video for {args.timeout:g} s){kept}", file=sys.stderr)
    elif result.ended == FAILED:
        print(f"error: the source failed: {result.error}{kept}", file=sys.stderr)
        return EXIT_BAD_INPUT
    else:
        print(f"{result.ended}{kept}", file=sys.stderr)
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    """Ctrl-C (or SIGTERM) ends the run cleanly, output kept; a second one is a hard stop."""
    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)

