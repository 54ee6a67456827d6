"""Issue 32: what the audit costs against the run it checks, and what it finds.

    python benchmarks/bench_audit.py [--seconds 4] [--seconds-4k 2] [--sizes 1080p,4k] [--json OUT]

1. The small-face clips of bench_recall.py (a 3x3 grid of the sample photos filmed by a
   zooming, panning virtual camera: faces ~10-110 px high at 1080p, twice that at 4K).
2. A default `--video` run with the face target (`python -m pipeline CLIP --target face
   --video`, audit `sample`), as a whole process: the run's own time (`elapsed_s`) against
   the audit's (`stage_seconds.audit`), both from its JSON summary, so the ratio is measured
   within one run; and its findings (a clean run: <= 5 % of checked frames should be flagged).
3. A render of the same clip from that run's detections.csv with every box removed from the
   middle frame on (`--detections cut.csv --video`, default hold, audit `sample`): a checked
   frame "shows an uncovered face" when the run covered more boxes there than the render; the
   share of those flagged (>= 90 %) and of the others flagged (false alarms, <= 5 %).
4. With `--all`, the same render with `--audit all` (every frame of the video and ZIP image).

The CPU's name is printed first: on a shared machine, compare rows of one run only.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recall import cpu_line, load, make_clips  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def run(cmd: list[str]) -> dict:
    """A whole `python -m pipeline` process; its JSON summary."""
    out = subprocess.run([sys.executable, "-m", "pipeline", *map(str, cmd)], check=True, cwd=REPO,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rows_by_frame(zip_path: Path) -> dict[int, list[list[str]]]:
    with zipfile.ZipFile(zip_path) as z:
        rows = list(csv.reader(io.StringIO(z.read("detections.csv").decode("utf-8"))))
    by: dict[int, list] = {}
    for row in rows[1:]:
        by.setdefault(int(row[0]), []).append(row)
    return {"header": rows[0], **by}


def report(zip_path: Path) -> dict:
    return json.loads(zip_path.with_name(zip_path.stem + ".report.json").read_text(encoding="utf-8"))


def scores(audit: dict, original: dict, rendered: dict) -> dict:
    """Flagged share of the checked frames that show an uncovered face, and of the others."""
    flagged = {f["frame"] for f in audit["findings"]}
    show = [f for f in audit["checked"] if len(original.get(f, [])) > len(rendered.get(f, []))]
    others = [f for f in audit["checked"] if f not in show]
    return {"checked": len(audit["checked"]), "uncovered_frames": len(show),
            "flagged_uncovered": len(flagged & set(show)), "flagged_others": len(flagged & set(others)),
            "recall": round(len(flagged & set(show)) / max(len(show), 1), 3),
            "false_alarm": round(len(flagged & set(others)) / max(len(others), 1), 3)}


def one_size(clip: Path, folder: Path, modes: tuple[str, ...]) -> dict:
    base = folder / "clean"
    base.mkdir()
    clean = run([clip, "--target", "face", "-o", base / "o.zip", "--video", base / "o.mp4"])
    audit = report(base / "o.zip")["audit"]
    row = {"run_s": clean["elapsed_s"], "audit_s": clean["stage_seconds"]["audit"],
           "audit_share": round(clean["stage_seconds"]["audit"] / clean["elapsed_s"], 3),
           "clean_checked": len(audit["checked"]), "clean_flagged": len({f["frame"] for f in audit["findings"]})}
    original = rows_by_frame(base / "o.zip")
    frames = max(k for k in original if k != "header") + 1
    cut_at = frames // 2
    cut_csv = folder / "cut.csv"
    with open(cut_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(original["header"])
        for frame in sorted(k for k in original if k != "header" and k < cut_at):
            writer.writerows(original[frame])
    for mode in modes:
        out = folder / f"cut_{mode}"
        out.mkdir()
        summary = run([clip, "--target", "face", "--detections", cut_csv, "--audit", mode,
                       "-o", out / "o.zip", "--video", out / "o.mp4"])
        row[f"cut_{mode}"] = {"run_s": summary["elapsed_s"], "audit_s": summary["stage_seconds"]["audit"],
                              "cli_findings": summary["audit"]["findings"],
                              **scores(report(out / "o.zip")["audit"], original, rows_by_frame(out / "o.zip"))}
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4.0, help="1080p clip length")
    p.add_argument("--seconds-4k", type=float, default=2.0, help="4K clip length")
    p.add_argument("--sizes", default="1080p,4k")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--all", action="store_true", help="also render with --audit all (every frame: slow)")
    p.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (clips, outputs, reports)")
    args = p.parse_args(argv)
    print(f"CPU: {cpu_line()}; load {load()}", flush=True)
    results = {}
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="bench-audit-")) as tmp:
        sizes = args.sizes.split(",")
        clips = make_clips(Path(tmp), {s: (args.seconds_4k if s == "4k" else args.seconds) for s in sizes})
        for size, clip in clips.items():
            folder = Path(tmp) / size
            folder.mkdir()
            modes = ("sample", "all") if args.all else ("sample",)
            results[size] = one_size(clip, folder, modes)
            r = results[size]
            print(f"{size}: default --video run {r['run_s']:.1f} s, audit {r['audit_s']:.1f} s "
                  f"({100 * r['audit_share']:.0f} %), clean run flagged {r['clean_flagged']} of "
                  f"{r['clean_checked']} checked frames", flush=True)
            for mode in modes:
                c = r[f"cut_{mode}"]
                print(f"  render with boxes removed, --audit {mode}: {c['checked']} checked, "
                      f"{c['flagged_uncovered']}/{c['uncovered_frames']} uncovered flagged ({100 * c['recall']:.0f} %), "
                      f"false alarms {c['flagged_others']}/{c['checked'] - c['uncovered_frames']} "
                      f"({100 * c['false_alarm']:.0f} %); audit {c['audit_s']:.1f} s of a {c['run_s']:.1f} s render; "
                      f"CLI summary findings {c['cli_findings']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_line(), **results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
