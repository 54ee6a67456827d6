#!/usr/bin/env bash
# System packages the tests need: Chromium + its driver for the browser test, ffmpeg/ffprobe
# for making and checking test videos, a Korean font so the Korean page renders as text and not
# as empty boxes in the browser test's screenshots. Debian/Ubuntu; uses sudo when not root.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
fc-list :lang=ko 2>/dev/null | grep -q . || need+=(fonts-nanum)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${need[@]}" >/dev/null
