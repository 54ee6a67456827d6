"""Where a run's memory goes: one `python -m pipeline` run in this process, its RSS sampled
every 50 ms (/proc/self/status VmRSS: OpenVINO's and FFmpeg's memory too, which tracemalloc
does not see), with the moments that matter marked: each OpenVINO compile (shape, hint),
the end of the render, the audit's start and end. Prints the peak of each phase.

    python benchmarks/rss_timeline.py CLIP -o /tmp/x.zip --video /tmp/x.mp4 --model yolo11n.yaml

(any CLI arguments). ru_maxrss of the process is printed last, as bench_memory reads it.
"""
from __future__ import annotations

import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

T0 = time.perf_counter()
samples: list[tuple[float, float]] = []
marks: list[tuple[float, str]] = []


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def mark(text: str) -> None:
    marks.append((time.perf_counter() - T0, f"{text} (rss {rss_mb():.0f} MB)"))


def sample(stop: threading.Event) -> None:
    while not stop.wait(0.05):
        samples.append((time.perf_counter() - T0, rss_mb()))


def instrument() -> None:
    from pipeline.audit import check
    from pipeline.jobs import audit_step, file_job
    from pipeline.models import engines

    requests = engines.RequestPool.requests

    def logged_requests(self, h, w, hint):
        if (h, w, hint) not in self.compiled:
            mark(f"compile {h}x{w} {hint} start")
            out = requests(self, h, w, hint)
            mark(f"compile {h}x{w} {hint} done, {len(out)} requests")
            return out
        return requests(self, h, w, hint)

    engines.RequestPool.requests = logged_requests
    run_audit = check.run_audit

    def logged_audit(*args, **kwargs):
        mark("audit start")
        out = yield from run_audit(*args, **kwargs)
        mark("audit end")
        return out

    audit_step.run_audit = logged_audit
    execute = file_job.FileJob.execute

    def logged_execute(self, *args, **kwargs):
        mark(f"stages start, plan {self.plan}")
        yield from execute(self, *args, **kwargs)
        mark("stages end")

    file_job.FileJob.execute = logged_execute
    trim = audit_step.trim_freed

    def logged_trim():
        mark("before trim_freed")
        trim()
        mark("after trim_freed")

    audit_step.trim_freed = logged_trim


def main() -> int:
    stop = threading.Event()
    threading.Thread(target=sample, args=(stop,), daemon=True).start()
    mark("start")
    instrument()
    mark("imported")
    from pipeline.cli import main as cli_main

    code = cli_main(sys.argv[1:])
    mark("end")
    stop.set()
    events = sorted(marks)
    bounds = [t for t, _ in events] + [float("inf")]
    for k, (t, text) in enumerate(events):
        inside = [mb for s, mb in samples if t <= s < bounds[k + 1]]
        print(f"{t:7.2f} s  {text}; peak until next mark {max(inside, default=0):.0f} MB", file=sys.stderr)
    peak_at = max(samples, key=lambda s: s[1], default=(0, 0))
    print(f"sampled peak {peak_at[1]:.0f} MB at {peak_at[0]:.1f} s; ru_maxrss "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
