"""The command line's flags: one parser for `python -m pipeline INPUT...`, and the detector
and mask flag groups it shares with `python -m pipeline live`. Every default comes from
`Settings`, so the CLI, the page and the API cannot drift apart."""
from __future__ import annotations

import argparse

from ..audio.voice import VOICES
from ..identity.flags import add_identity_flags, identity_settings
from ..mask.unmask import parse_track_ids
from ..settings import (
    AUDIT_ENV_VAR,
    AUDITS,
    BACKENDS,
    DEFAULT_AUDIT,
    DEFAULT_MEMORY_MB,
    DETAILS,
    DEVICES,
    ENCODES,
    FACE_MODEL,
    FACE_SHAPES,
    FOLLOW_ASPECTS,
    IMAGE_FORMATS,
    MEMORY_ENV_VAR,
    MODEL_ENV_VAR,
    PRECISIONS,
    STYLES,
    TARGETS,
    Settings,
)
from . import batch as batch_cli

EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


def _classes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated class ids, got {text!r}")


def _track_ids(text: str) -> tuple[int, ...]:
    try:
        return parse_track_ids(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err))


def _stride(text: str) -> int | str:
    text = text.strip().lower()
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number of frames, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    d = Settings.__dataclass_fields__  # defaults come from the one settings class
    p = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="Find every person in a video with YOLO11, cover each with a mosaic, and "
        "write every N-th frame into a ZIP (with detections.csv listing every masked box).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="video file (mp4, mov, avi, mkv, webm, ...) or a Google Drive share link; several, a folder, "
                   "a glob, @list.txt or a Drive folder link make a batch (with -o OUT_DIR)")
    p.add_argument("-o", "--output", help="ZIP to write (default: <input stem>_mosaic.zip next to the input); "
                   "in a batch, the folder for every output")
    p.add_argument("--interval", type=int, default=d["interval"].default,
                   help="capture every N-th frame, counted by position in the stream (default: %(default)s)")
    p.add_argument("--scale", type=int, default=d["scale_pct"].default, metavar="PCT",
                   help="output size in percent of the source, 50-100; detection always runs on the full frame (default: %(default)s)")
    p.add_argument("--max-mb", type=float, default=None, metavar="MB",
                   help="stop before the ZIP would exceed this size in MB (10^6 bytes); default: no cap")
    p.add_argument("--max-images", type=int, default=None, metavar="N",
                   help="stop after N images; default: no cap")
    p.add_argument("--format", choices=IMAGE_FORMATS, default=d["image_format"].default,
                   help="image format in the ZIP (default: %(default)s)")
    p.add_argument("--quality", type=int, default=d["jpeg_quality"].default, metavar="Q",
                   help="JPEG quality 1-100 (default: %(default)s)")
    add_detector_flags(p)
    add_mask_flags(p)
    p.add_argument("--video", nargs="?", const=True, default=None, metavar="OUT.mp4",
                   help="also write the whole mosaicked video (H.264 MP4, every frame masked, source audio kept); "
                   "in a batch a plain flag: <stem>_mosaic.mp4 in OUT_DIR")
    p.add_argument("--encode", choices=tuple(ENCODES), default=d["encode"].default,
                   help="how the --video file is written: fast = the encode takes about 0.6-0.8x the CPU, the "
                   "file is about twice as large (x264 %s); small = about half the size (x264 %s); the same "
                   "picture quality either way (CRF 20). See docs/speed.md (default: %%(default)s)"
                   % (ENCODES["fast"], ENCODES["small"]))
    add_voice_flags(p)
    p.add_argument("--hold", type=float, default=d["hold_s"].default, metavar="SECONDS",
                   help="keep each tracked person masked this long before and after the detector "
                   "sees them, so a missed frame does not expose anyone; 0 = off (default: %(default)s)")
    p.add_argument("--stride", type=_stride, default=d["stride"].default, metavar="auto|N",
                   help="file runs: the most frames between two detections. auto = every other frame, every 3rd "
                   "(0.1 s) where nothing moves fast for its size; always at scene cuts and ZIP captures, and at every "
                   "frame between two detections that disagree (someone appeared, left or moved fast); the hold covers "
                   "the frames between. 1 = every frame (slowest). Live streams detect every frame they can. "
                   "See docs/recall.md (default: %(default)s)")
    p.add_argument("--memory-mb", type=float, default=None, metavar="MB",
                   help="frame buffers the run may hold, in MB; queue depths follow the frame size, "
                   f"so 4K runs stay inside it (default: ${MEMORY_ENV_VAR} or {DEFAULT_MEMORY_MB:g})")
    p.add_argument("--detect-only", action="store_true",
                   help="write only detections.csv (in the ZIP), no images or video: review or edit it, "
                   "then render with --detections")
    p.add_argument("--max-download-mb", type=float, default=4000, metavar="MB",
                   help="refuse a Google Drive file larger than this (default: %(default)s)")
    p.add_argument("--detections", default=None, metavar="FILE.csv",
                   help="replay boxes from a CSV (frame,x1,y1,x2,y2[,time_s,score,class,track_id,kind]) instead of "
                   "running the model; edit a run's detections.csv to add a missed person and re-render "
                   "(kind=manual rows of one track_id are interpolated between their frames)")
    p.add_argument("--unmask-tracks", type=_track_ids, default=d["unmask_tracks"].default, metavar="IDS",
                   help="leave these track ids of the --detections CSV uncovered on every frame, "
                   "held boxes included, comma-separated (e.g. 3,7)")
    p.add_argument("--unmask-reason", default="", metavar="TEXT",
                   help="why the --unmask-tracks stay visible (optional; written to the report beside each)")
    p.add_argument("--audit", choices=AUDITS, default=None,
                   help="after writing, decode the outputs and look for faces (and people) the masks miss: "
                   "sample (frames spread over the video, within a quarter of the run's time), all (every "
                   "image and video frame) or off; findings go to a warning line, the JSON summary and "
                   f"<zip stem>.report.json/.html (default: ${AUDIT_ENV_VAR} or {DEFAULT_AUDIT})")
    batch_cli.add_arguments(p)
    return p


def add_voice_flags(p: argparse.ArgumentParser) -> None:
    """What the --video output's audio carries (pipeline/audio/, docs/voice.md)."""
    p.add_argument("--voice", choices=VOICES, default=Settings.__dataclass_fields__["voice"].default,
                   help="the --video output's voices: keep the audio as it is, disguise (pitch and formants "
                   "moved by an amount drawn per run and kept nowhere; a determined analyst or the words "
                   "themselves can still identify a speaker) or mute (a silent track: the safe choice) "
                   "(default: %(default)s)")
    p.add_argument("--mute-spans", default="", metavar="SPANS",
                   help="silence these seconds of the --video output, e.g. 12.5-14,61-63.2 (names said aloud)")
    p.add_argument("--bleep", action="store_true", help="cover the --mute-spans with a tone instead of silence")


def add_detector_flags(p: argparse.ArgumentParser) -> None:
    """What finds people: model, device, backend, batch, size, confidence, classes (shared
    by `python -m pipeline` and `python -m pipeline live`)."""
    d = Settings.__dataclass_fields__
    p.add_argument("--model", default=None, metavar="SPEC",
                   help=f"YOLO weights (.pt), an exported model folder, or a .yaml for an untrained network; "
                   f"default: ${MODEL_ENV_VAR} or yolo11n.pt. For --target face: '{FACE_MODEL}' (default) or a "
                   f"CenterFace .onnx")
    p.add_argument("--device", choices=DEVICES, default=d["device"].default,
                   help="where to run detection; auto = CUDA when present (default: %(default)s)")
    p.add_argument("--backend", choices=BACKENDS, default=d["backend"].default,
                   help="inference backend; auto = torch FP16 on CUDA, OpenVINO on CPU (default: %(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default=d["precision"].default,
                   help="CPU inference precision: int8 = the OpenVINO model quantized with NNCF (made once on "
                   "first use, calibrated on the shipped sample clips, cached beside the FP32 export); "
                   "see docs/speed.md for how well it agrees with fp32 (default: %(default)s)")
    p.add_argument("--calibration-video", default=None, metavar="VIDEO",
                   help="with --precision int8: calibrate on frames of this video (e.g. your own footage) "
                   "instead of the sample clips; a new int8 model is made for it, once")
    p.add_argument("--detail", choices=DETAILS, default=d["detail"].default,
                   help="what of each frame the model sees: fast = the whole frame at --imgsz only (small "
                   "faces and far people at 1080p/4K can be missed); full = that plus full-resolution tiles "
                   "rolled across frames, so what the model finds at full size is found; max = every tile on "
                   "every frame (slowest). Live streams use fast. See docs/recall.md (default: %(default)s)")
    p.add_argument("--batch", type=int, default=d["batch"].default, metavar="N",
                   help="frames per detection batch (default: %(default)s)")
    p.add_argument("--imgsz", type=int, default=d["imgsz"].default, metavar="PX",
                   help="detection input size; larger finds smaller people, slower (default: %(default)s)")
    p.add_argument("--conf", type=float, default=d["conf"].default, metavar="C",
                   help="minimum detection confidence; lower masks more (default: %(default)s)")
    p.add_argument("--classes", type=_classes, default=d["classes"].default, metavar="IDS",
                   help="COCO class ids to mask, comma-separated (default: 0 = person)")


def add_mask_flags(p: argparse.ArgumentParser) -> None:
    """How people are covered: padding, style, mosaic cells (shared with the live command)."""
    d = Settings.__dataclass_fields__
    p.add_argument("--pad", type=float, default=d["pad_pct"].default, metavar="PCT",
                   help="grow each box by this percent of its size on each side; a face's box is first grown "
                        "25%% to cover the head (default: %(default)s)")
    p.add_argument("--style", choices=STYLES, default=d["style"].default,
                   help="how to cover people (default: %(default)s)")
    p.add_argument("--cells", type=int, default=d["mosaic_cells"].default, metavar="N",
                   help="mosaic cells across a box, at most 8 across a face; for blur, the strength "
                        "(default: %(default)s)")
    p.add_argument("--min-cell", type=int, default=d["min_cell_px"].default, metavar="PX",
                   help="smallest mosaic cell in pixels, so small people stay unrecognizable (default: %(default)s)")
    p.add_argument("--target", choices=TARGETS, default=d["target"].default,
                   help="what to hide: person (padded box), silhouette, head, or face (CenterFace) (default: %(default)s)")
    p.add_argument("--face-shape", choices=FACE_SHAPES, default=d["face_shape"].default,
                   help="how the face target covers a face (default: %(default)s)")
    add_identity_flags(p)
    p.add_argument("--follow", choices=FOLLOW_ASPECTS, default=None, metavar="ASPECT",
                   help="follow cam: the video (--video, or the live output) is a crop of this aspect "
                   f"({', '.join(FOLLOW_ASPECTS)}) that follows the largest person or face, smoothed, and shows "
                   "the whole frame letterboxed when nobody is there; cropped after masking. ZIP images stay "
                   "whole frames, so detections.csv matches them (default: off)")


def mask_settings(args: argparse.Namespace) -> dict:
    """The Settings fields the shared detector and mask flags give."""
    extra = {"model": args.model} if args.model else {}
    return dict(device=args.device, backend=args.backend, batch=args.batch, imgsz=args.imgsz, conf=args.conf,
                classes=args.classes, pad_pct=args.pad, style=args.style, mosaic_cells=args.cells,
                min_cell_px=args.min_cell, target=args.target, face_shape=args.face_shape,
                precision=args.precision, detail=args.detail, calibration_video=args.calibration_video,
                **identity_settings(args), follow=args.follow, **extra)


def settings_from_args(args: argparse.Namespace) -> Settings:
    extra = {"memory_mb": args.memory_mb} if args.memory_mb is not None else {}
    if getattr(args, "segment_s", None) is not None:
        extra["segment_s"] = args.segment_s
    if args.audit is not None:  # else Settings' default: $MOSAIC_AUDIT or sample
        extra["audit"] = args.audit
    return Settings(
        interval=args.interval, scale_pct=args.scale, max_mb=args.max_mb, max_images=args.max_images,
        image_format=args.format, jpeg_quality=args.quality, hold_s=args.hold, stride=args.stride,
        detections_csv=args.detections, unmask_tracks=args.unmask_tracks, voice=args.voice,
        mute_spans=args.mute_spans, bleep=args.bleep, unmask_reason=args.unmask_reason, encode=args.encode,
        **mask_settings(args), **extra,
    )
