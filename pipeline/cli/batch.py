"""The batch from the command line: `python -m pipeline INPUT... -o OUT_DIR`.

Plans the batch (pipeline/batch/), hands the videos to an engine (this process, `--workers
N` local processes, or `--ray` actors), prints one JSON summary line per input on stdout in
input order (each as soon as every line before it is out), and shows an overall tqdm bar
plus one per video in progress on stderr. Exit code: 0 when every input is done or skipped,
1 when any failed (the others still ran), 2 when the batch could not start (bad settings,
OUT_DIR not writable, a model that does not load, Ray missing), 130 when interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Callable

from ..audio.plan import check_audio_request
from ..batch.inputs import expand
from ..batch.plan import JobOptions, count_failed, line_for_planned, plan, run_item
from ..errors import Cancelled, MosaicError, SettingsError
from ..io.source import looks_like_link
from ..settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130
RAY_ADDRESS = re.compile(r"^(auto|local|ray://\S+|[\w.\-\[\]:]+:\d+)$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The batch flags (cli.build_parser adds them; INPUT becomes INPUT... and --video's
    file name becomes optional)."""
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="batch: N worker processes (with --ray: N Ray actors), each loading the model once; "
                   "videos are handed out one at a time (default: 1, or with --ray one per GPU / node)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="batch: run on Ray (pip install -r requirements-ray.txt). No ADDRESS: a Ray of this "
                   "machine only; 'auto' or ray://HOST:PORT: that cluster. OUT_DIR must be a folder every "
                   "node sees")
    p.add_argument("--segment-s", type=float, default=Settings.__dataclass_fields__["segment_s"].default,
                   metavar="S", help="one video with --workers N (N > 1) or --ray is split into segments this "
                   "long, one per worker, joined into one ZIP (and video); 0 = never split (default: %(default)s)")


def is_segmented(args: argparse.Namespace) -> bool:
    """One plain video file with --workers N (N > 1) or --ray, and `-o` not a folder: the
    single run, split into segments across the workers (batch/long_run.py)."""
    if len(args.inputs) != 1 or not (args.ray is not None or (args.workers or 1) > 1):
        return False
    if args.output is not None and os.path.isdir(os.path.expanduser(str(args.output))):
        return False  # -o OUT_DIR: the batch of one, as before
    return os.path.isfile(os.path.expanduser(args.inputs[0].strip()))


def is_batch(args: argparse.Namespace) -> bool:
    """Several inputs, or one that names many (folder, glob, @list, Drive folder), or
    --workers/--ray: a batch. One plain file or link is the single run, as before (its
    `-o` names the ZIP; a folder there is refused: use --workers 1 for a batch of one)."""
    if is_segmented(args):
        return False
    if len(args.inputs) > 1 or args.workers is not None or args.ray is not None:
        return True
    spec = args.inputs[0].strip()
    if spec.startswith("@") or os.path.isdir(os.path.expanduser(spec)):
        return True
    if looks_like_link(spec):
        return "/folders/" in spec
    return bool(re.search(r"[*?\[]", spec)) and not os.path.exists(os.path.expanduser(spec))


def single_input(args: argparse.Namespace) -> str:
    """The one INPUT of a single run; `--video` without a file name is a batch-only form."""
    if args.video is True:
        raise SettingsError("--video needs a file name (OUT.mp4) for a single input; "
                            "without one it is the batch form (with -o OUT_DIR)")
    return args.inputs[0]


def batch_inputs(argv: list[str], args: argparse.Namespace) -> list[str]:
    """The INPUTs in command-line order. argparse lets an option whose value is optional
    (`--video`, `--ray`) take the INPUT written after it: in a batch `--video` is a plain
    flag, and a `--ray` value that is not an address is an input, so both go back."""
    taken = []
    if isinstance(args.video, str):
        taken.append(args.video)
        args.video = True
    if args.ray is not None and args.ray != "local" and not RAY_ADDRESS.match(args.ray):
        taken.append(args.ray)
        args.ray = "local"
    if not taken:
        return list(args.inputs)
    wanted = list(args.inputs) + taken
    ordered = [token for token in argv if token in wanted]
    return list(dict.fromkeys(ordered)) or wanted


class _Lines:
    """Summary lines in input order: each is printed once all before it are."""

    def __init__(self, write: Callable[[str], None]):
        self.write, self.pending, self.next, self.all = write, {}, 0, []

    def add(self, index: int, line: dict) -> None:
        self.pending[index] = line
        while self.next in self.pending:
            line = self.pending.pop(self.next)
            self.all.append(line)
            self.write(json.dumps(line))
            self.next += 1


class _Bars:
    """The overall bar, and one bar per worker slot for the video it is on."""

    def __init__(self, tqdm, total: int, done: int):
        self.tqdm = tqdm
        self.overall = tqdm(total=total, initial=done, unit="video", desc="batch", position=0,
                            file=sys.stderr, dynamic_ncols=True, disable=None, leave=True)
        self.slots: dict[int, tuple[object, int]] = {}

    def progress(self, slot: int, item, frames_read: int, frames_total: int) -> None:
        bar, index = self.slots.get(slot, (None, -1))
        if bar is None:
            bar = self.tqdm(total=frames_total or None, unit="frame", position=slot + 1, file=sys.stderr,
                            dynamic_ncols=True, disable=None, leave=False)
        if index != item.index:
            bar.reset(total=frames_total or None)
            bar.set_description_str(_short_label(item.label), refresh=False)
        elif frames_total and bar.total != frames_total:
            bar.total = frames_total
        bar.update(max(0, frames_read - bar.n))
        self.slots[slot] = (bar, item.index)

    def finished_one(self) -> None:
        self.overall.update(1)

    def close(self) -> None:
        for bar, _ in self.slots.values():
            bar.close()
        self.overall.close()


def _short_label(label: str, width: int = 30) -> str:
    return label if len(label) <= width else "…" + label[-(width - 1):]


class SerialEngine:
    """The batch in this process, one video after another, the model loaded once."""

    def __init__(self, settings, options: JobOptions):
        self.settings, self.options = settings, options

    def __enter__(self) -> "SerialEngine":
        from ..batch.workers import load_model

        load_model(self.settings)
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, items, progress):
        for item in items:
            progress(0, item, 0, 0)
            yield item, run_item(item, self.settings, self.options,
                                 on_progress=lambda index, done, total, item=item: progress(0, item, done, total))


def make_engine(args: argparse.Namespace, settings, options: JobOptions, warn: Callable[[str], None]):
    if args.ray is not None:
        from ..batch.ray import RayPool

        return RayPool(args.ray, args.workers, settings, options, args.output, warn=warn)
    if args.workers is not None and args.workers > 1:
        from ..batch.workers import LocalPool

        return LocalPool(args.workers, settings, options)
    return SerialEngine(settings, options)


def run_batch(args: argparse.Namespace, argv: list[str], make_settings) -> int:
    """The whole batch; returns the exit code."""
    from tqdm import tqdm

    def say(text: str) -> None:
        tqdm.write(text, file=sys.stderr)

    try:
        if not args.output:
            raise SettingsError("Several inputs (or a folder, glob, @list, --workers or --ray) need -o OUT_DIR, "
                                "the folder their outputs go to")
        if args.workers is not None and args.workers < 1:
            raise SettingsError(f"--workers must be at least 1 (got {args.workers})")
        settings = make_settings(args)
        check_audio_request(settings, bool(args.video), args.detect_only)  # once, not once per file
        if settings.detections_csv is not None:
            raise SettingsError("--detections replays the boxes of one video; it cannot be used in a batch")
        specs = batch_inputs(argv, args)
        items = plan(expand(specs, args.output), args.output, make_video=bool(args.video))
        options = JobOptions(max_download_bytes=int(args.max_download_mb * 1e6))
    except MosaicError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT

    stdout = sys.stdout  # the JSON lines' channel, kept even where an engine moves sys.stdout (Ray)

    def emit(text: str) -> None:
        tqdm.write(text, file=stdout)
        line = json.loads(text)
        if line.get("status") == "failed":
            say(f"failed: {line['input']}: {line['error']}")
        audit = line.get("audit") or {}
        if audit.get("findings"):  # per video, where the user can act (pipeline/audit/)
            say(f"warning: {line['input']}: the audit found {audit['findings']} possible face(s) or person(s) "
                f"left visible in frames {', '.join(map(str, audit['frames_with_findings'][:10]))}; see its report")

    lines = _Lines(emit)
    todo = [item for item in items if item.state == "todo"]
    bars = _Bars(tqdm, len(items), len(items) - len(todo))
    try:
        for item in items:
            planned = line_for_planned(item)
            if planned is not None:
                lines.add(item.index, planned)
        if todo:
            from ..batch.split_batch import batch_runs  # long videos split over the workers

            with make_engine(args, settings, options, say) as engine:
                split = args.ray is not None or (args.workers or 1) > 1
                for item, line in batch_runs(engine, todo, settings, bars.progress, split):
                    lines.add(item.index, line)
                    bars.finished_one()
    except (KeyboardInterrupt, Cancelled):
        bars.close()
        print("error: cancelled; the videos in progress were removed, the finished ones kept "
              "(run the same command again to go on)", file=sys.stderr)
        return EXIT_CANCELLED
    except MosaicError as err:  # the engine could not start: model, Ray, OUT_DIR on a node
        bars.close()
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    bars.close()
    failed = count_failed(lines.all)
    skipped = sum(1 for line in lines.all if line.get("status") == "skipped")
    print(f"batch: {len(lines.all) - failed - skipped} done, {skipped} skipped, {failed} failed",
          file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
