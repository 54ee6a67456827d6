"""The OpenVINO export of a YOLO model: made once with dynamic shapes (FP32) beside the
weights, under a file lock so parallel processes export once, and reused while the
weights and the ultralytics version stay the same. Works alike for detect, segment and
pose models (the export keeps every output: a segmentation model's proto too).

Architecture-only yaml networks ('yolo11n-seg.yaml') are copied into a cache folder of
their own first, so their export never shadows the export of real weights."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import warnings
from pathlib import Path

EXPORT_STAMP = ".mosaic-export.json"  # what the cached export was made from


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mosaic-anonymizer"


def yaml_copy(spec: str) -> str:
    """The model yaml in a folder of its own (keyed by its content), so its export sits
    beside it and cannot shadow the export of real weights with the same stem."""
    from ultralytics.utils.checks import check_yaml

    try:
        source = Path(check_yaml(spec))
    except FileNotFoundError:
        # 'yolo11n.yaml' names scale n of the packaged 'yolo11.yaml'; 'yolo11n-seg.yaml' of 'yolo11-seg.yaml'
        source = Path(check_yaml(re.sub(r"(\d+)[nslmx](-\w+)?(\.ya?ml)$", r"\1\2\3", Path(spec).name)))
    text = source.read_bytes()
    folder = cache_root() / f"yaml-{hashlib.sha256(text + Path(spec).name.encode()).hexdigest()[:16]}"
    target = folder / Path(spec).name  # keep the name: it carries the model scale (n/s/m/...)
    if not target.exists() or target.read_bytes() != text:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{target.name}.{os.getpid()}"
        tmp.write_bytes(text)
        os.replace(tmp, target)
    return str(target)


def openvino_export(yolo, spec: str) -> Path:
    """The .xml of the dynamic-shape FP32 OpenVINO export of `yolo`, made on first use."""
    import ultralytics

    weights = Path(getattr(yolo, "ckpt_path", None) or spec)
    export_dir = weights.with_name(f"{weights.stem}_openvino_model")
    stat = weights.stat()
    source = {"weights": weights.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
              "ultralytics": ultralytics.__version__, "dynamic": True}
    stamp = export_dir / EXPORT_STAMP

    def current() -> Path | None:
        try:
            if json.loads(stamp.read_text()) == source:
                return next(export_dir.glob("*.xml"))
        except (OSError, ValueError, StopIteration):
            pass
        return None

    found = current()
    if found is not None:
        return found
    with file_lock(export_dir.with_name(f".{export_dir.name}.lock")):
        found = current()  # another process may have made it while we waited
        if found is not None:
            return found
        shutil.rmtree(export_dir, ignore_errors=True)
        with warnings.catch_warnings():  # torch.jit deprecation noise from the exporter
            warnings.simplefilter("ignore")
            exported = Path(yolo.export(format="openvino", dynamic=True, half=False, verbose=False))
        if exported.resolve() != export_dir.resolve():
            shutil.rmtree(export_dir, ignore_errors=True)
            shutil.move(str(exported), export_dir)
        stamp.write_text(json.dumps(source))
        return next(export_dir.glob("*.xml"))


@contextlib.contextmanager
def file_lock(path: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_metadata(folder: Path) -> dict:
    """The export's metadata.yaml (stride, task, names, kpt_shape, ...); {} when absent."""
    try:
        from ultralytics.utils import YAML

        return YAML.load(folder / "metadata.yaml") or {}
    except Exception:  # noqa: BLE001 - a missing or odd metadata file means the defaults
        return {}
