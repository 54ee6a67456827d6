"""The live device/CPU/RAM panel: figures read with psutil and torch.cuda (NVML when present)."""
from __future__ import annotations

import html
import os
import threading
import time
from dataclasses import dataclass

import gradio as gr
import psutil

from .i18n import DEFAULT_LANGUAGE, language, tr


@dataclass
class JobRate:
    """Throughput of one running job, as the progress loop last saw it."""

    fps: float = 0.0
    frames_read: int = 0
    frames_total: int = 0
    updated: float = 0.0


class RunningJobs:
    """Jobs in progress in this process (every browser tab and API call), for the panel."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, JobRate] = {}

    def update(self, job_id: str, fps: float, frames_read: int, frames_total: int) -> None:
        with self._lock:
            self._jobs[job_id] = JobRate(fps, frames_read, frames_total, time.monotonic())

    def finish(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def snapshot(self) -> list[JobRate]:
        with self._lock:
            return list(self._jobs.values())


RUNNING = RunningJobs()


@dataclass(frozen=True)
class DeviceStatus:
    gpu_name: str | None
    gpu_mem_used_gb: float
    gpu_mem_total_gb: float
    gpu_util_pct: float | None
    cpu_cores: int
    cpu_pct: float  # the whole machine, every process
    ram_used_gb: float  # the whole machine
    ram_total_gb: float
    app_cpu_pct: float = 0.0  # this app's process, as a share of all cores
    app_ram_gb: float = 0.0  # this app's resident memory


_THIS_PROCESS = psutil.Process()


def read_status() -> DeviceStatus:
    gpu_name, used, total, util = None, 0.0, 0.0, None
    try:
        import torch

        if torch.cuda.is_available():
            gpu_name = torch.cuda.get_device_name(0)
            free_b, total_b = torch.cuda.mem_get_info(0)
            used, total = (total_b - free_b) / 1e9, total_b / 1e9
            util = _nvml_utilization()
    except Exception:
        gpu_name = None
    memory = psutil.virtual_memory()
    cores = os.cpu_count() or 1
    try:
        app_cpu = _THIS_PROCESS.cpu_percent(interval=None) / cores  # since the last call
        app_ram = _THIS_PROCESS.memory_info().rss / 1e9
    except psutil.Error:
        app_cpu, app_ram = 0.0, 0.0
    return DeviceStatus(
        gpu_name=gpu_name,
        gpu_mem_used_gb=used,
        gpu_mem_total_gb=total,
        gpu_util_pct=util,
        cpu_cores=cores,
        cpu_pct=psutil.cpu_percent(interval=None),
        ram_used_gb=(memory.total - memory.available) / 1e9,
        ram_total_gb=memory.total / 1e9,
        app_cpu_pct=min(app_cpu, 100.0),
        app_ram_gb=app_ram,
    )


def _nvml_utilization() -> float | None:
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        return float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except Exception:
        return None


def status_html(status: DeviceStatus | None = None, jobs: list[JobRate] | None = None,
                lang: str = DEFAULT_LANGUAGE) -> str:
    status = status or read_status()
    jobs = RUNNING.snapshot() if jobs is None else jobs
    if status.gpu_name:
        util = tr("status.gpu_busy", lang, pct=status.gpu_util_pct) if status.gpu_util_pct is not None else ""
        device = (
            f'<span class="dev-gpu">GPU: {html.escape(status.gpu_name)}</span> '
            f"{status.gpu_mem_used_gb:.1f} / {status.gpu_mem_total_gb:.1f} GB{html.escape(util)}"
        )
    else:
        device = f'<span class="dev-cpu">{html.escape(tr("status.cpu_only", lang, cores=status.cpu_cores))}</span>'
    if jobs:
        rates = ", ".join(tr("status.rate", lang, fps=j.fps, read=j.frames_read, total=j.frames_total or "?")
                          for j in jobs)
        work = tr("status.job_one", lang, rates=rates) if len(jobs) == 1 else \
            tr("status.jobs", lang, jobs=len(jobs), rates=rates)
    else:
        work = tr("status.idle", lang)
    # Each item keeps its words together; a narrow screen wraps between items, not inside.
    items = [
        device,
        html.escape(tr("status.app", lang, cpu=status.app_cpu_pct, ram_gb=status.app_ram_gb)),
        html.escape(tr("status.machine", lang, cpu=status.cpu_pct, used_gb=status.ram_used_gb,
                       total_gb=status.ram_total_gb)),
        html.escape(work),
    ]
    return '<div id="status-panel">' + " · ".join(f'<span class="item">{i}</span>' for i in items) + "</div>"


def status_panel(request: gr.Request | None = None) -> str:
    """The panel for one page (its timer and its load), in that page's language."""
    return status_html(lang=language(request))


STATUS_CSS = """
#status-panel { font-family: monospace; padding: 6px 10px; border-radius: 6px; }
#status-panel .item { display: inline-block; max-width: 100%; }
#status-panel .dev-gpu { color: #15803d; font-weight: bold; }
#status-panel .dev-cpu { color: #b91c1c; font-weight: bold; }
"""
