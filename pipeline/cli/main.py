"""`python -m pipeline INPUT`: mosaic every person in a video into a ZIP of frames.

A tqdm bar on stderr, a one-line JSON summary on stdout; bad input is one line on stderr
and a non-zero exit, with no output file left behind. `live` as the first word runs
cli/live.py; several inputs (or a folder, glob, @list, Drive folder, --workers, --ray) make
a batch into `-o OUT_DIR`: see cli/batch.py. One file with --workers N (N > 1) or --ray is
the single run split into segments across the workers (batch/long_run.py).
"""
from __future__ import annotations

import json
import sys
import threading

from ..errors import Cancelled, MosaicError, SettingsError
from ..events import Progress, Result
from ..jobs.runner import run
from . import batch as batch_cli
from .args import EXIT_BAD_INPUT, EXIT_CANCELLED, build_parser, settings_from_args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["live"]:  # `python -m pipeline live SOURCE -o OUT`: see live.py
        from .live import main as live_main

        return live_main(argv[1:])
    args = build_parser().parse_args(argv)
    if batch_cli.is_batch(args):
        return batch_cli.run_batch(args, sys.argv[1:] if argv is None else argv, settings_from_args)
    from tqdm import tqdm

    cancel = threading.Event()
    bar = None
    try:
        settings = settings_from_args(args)
        result: Result | None = None
        if batch_cli.is_segmented(args) and not args.detect_only:  # one long video over the workers
            from ..batch.long_run import run_segmented

            events = run_segmented(batch_cli.single_input(args), settings, output=args.output, cancel=cancel,
                                   video_output=args.video, workers=args.workers, ray=args.ray,
                                   max_download_bytes=int(args.max_download_mb * 1e6))
        else:
            events = run(batch_cli.single_input(args), settings, output=args.output, cancel=cancel,
                         video_output=args.video, max_download_bytes=int(args.max_download_mb * 1e6),
                         detect_only=args.detect_only)
        for event in events:
            if isinstance(event, Result):
                result = event
            elif isinstance(event, Progress):
                bar = _update_bar(bar, event, tqdm)
        if bar is not None:
            bar.close()
        print(json.dumps(result.summary()))
        if result.stopped_early:
            print(result.outcome, file=sys.stderr)
        for warning in result.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return 0
    except KeyboardInterrupt:
        cancel.set()
        _close(bar)
        print("error: cancelled; partial output removed", file=sys.stderr)
        return EXIT_CANCELLED
    except (MosaicError, SettingsError) as err:
        _close(bar)
        print(f"error: {err}", file=sys.stderr)
        return EXIT_CANCELLED if isinstance(err, Cancelled) else EXIT_BAD_INPUT


def _close(bar) -> None:
    if bar is not None:
        bar.close()


def _update_bar(bar, event: Progress, tqdm):
    """One bar for the whole run; stages show as its description, so stderr gets no extra
    lines (on a terminal; tqdm stays silent when stderr is not one)."""
    if bar is None:
        bar = tqdm(total=event.frames_total or None, unit="frame", desc=event.stage, file=sys.stderr,
                   dynamic_ncols=True, disable=None, leave=False)
    if event.stage != "processing":
        bar.set_description_str(event.message or event.stage, refresh=True)
        return bar
    if bar.total is None and event.frames_total:
        bar.total = event.frames_total
    bar.set_description_str("mosaic", refresh=False)
    bar.update(event.frames_read - bar.n)
    cap = f"/{event.max_bytes / 1e6:.0f}" if event.max_bytes else ""
    bar.set_postfix_str(
        f"images={event.images_written} people={event.people_found} "
        f"zip={event.bytes_written / 1e6:.1f}{cap}MB", refresh=False,
    )
    return bar
