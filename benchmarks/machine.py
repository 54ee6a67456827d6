"""The machine a benchmark ran on, printed beside its figures: the CPU's name, core count and
the instruction sets that decide the detector's speed, ONEDNN_MAX_CPU_ISA when set (AVX2
there shows an AVX2-only machine's detector on a bigger CPU, docs/speed.md), and the load."""
from __future__ import annotations

import os
import platform

WANTED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8")


def cpu_line() -> str:
    name, flags = platform.processor() or "?", set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    have = [f for f in WANTED_FLAGS if f in flags]
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip()
    return (f"{name}, {len(os.sched_getaffinity(0))} cores, flags: {' '.join(have) or 'none of ' + ' '.join(WANTED_FLAGS)}"
            + (f"; ONEDNN_MAX_CPU_ISA={isa} (OpenVINO limited to it)" if isa else ""))


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
