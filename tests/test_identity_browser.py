"""In a real browser (the pattern of tests/test_browser.py): a man filmed in two shots with
a cut between, mirrored in the second, is two tracks but ONE card in the review; ticking
that card once leaves him visible in the render, in both shots, while the other man (also
in both shots) stays covered. Detection is real (CenterFace), grouping is real (dlib)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

pytest.importorskip("dlib")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from identity_clips import two_shot_clip
from mediakit import decode_frames, read_zip
from test_browser import app, browser, download_result, open_page, page, set_value, upload, wait_for_text  # noqa: F401

from pipeline.identity.photos import face_finder

PER_SHOT = 16
JOB_MS = 120_000


def overlaps(box, truth) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return truth[0] <= cx <= truth[2] and truth[1] <= cy <= truth[3]


def centre(box, share: float = 0.3):
    x1, y1, x2, y2 = box
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, share * (x2 - x1) / 2, share * (y2 - y1) / 2
    return slice(int(cy - hh), int(cy + hh)), slice(int(cx - hw), int(cx + hw))


def test_one_card_for_a_man_in_two_shots_and_one_tick_keeps_him_visible(page, tmp_path):  # noqa: F811
    video, where, _ = two_shot_clip(tmp_path, face_finder(), PER_SHOT)
    upload(page, video)
    page.locator("#target label").filter(has_text=re.compile(r"^\s*Faces\s*$")).click()
    set_value(page, "interval", 1)
    page.click("#detect-button")
    detected = read_zip(download_result(page, tmp_path / "detected"))
    his = sorted({int(r["track_id"]) for r in detected.csv_rows()
                  if overlaps([float(r[k]) for k in ("x1", "y1", "x2", "y2")], where[int(r["frame"])]["X"])})
    first = {int(r["track_id"]) for r in detected.csv_rows() if int(r["frame"]) < PER_SHOT}
    assert len(his) >= 2 and set(his) & first and set(his) - first, f"two tracks, one per shot: {his}"

    expect(page.locator("#review-cards")).to_be_visible(timeout=30_000)
    ticks = page.locator("#review-unmask input")
    names = [ticks.nth(i).get_attribute("name") for i in range(ticks.count())]
    assert names.count(",".join(map(str, his))) == 1, f"one card holds all his tracks: {names}"
    assert page.locator("#review-cards img").count() == len(names)
    assert not any(set(his) & {int(t) for t in n.split(",")} for n in names if n != ",".join(map(str, his)))
    page.locator(f"#review-unmask input[name='{','.join(map(str, his))}']").check()  # one tick

    page.get_by_text("Advanced").click()  # PNG: pixels compared exactly
    page.locator("label").filter(has_text=re.compile(r"^\s*png\s*$")).first.click()
    page.click("#render-button")
    wait_for_text(page, "#summary", r"^Done", JOB_MS)
    rendered = read_zip(download_result(page, tmp_path / "rendered"))
    source = decode_frames(video)
    for shot in (range(PER_SHOT), range(PER_SHOT, 2 * PER_SHOT)):
        visible = [f for f in shot if np.array_equal(rendered.image_for_frame(f)[centre(where[f]["X"])],
                                                      source[f][centre(where[f]["X"])])]
        assert len(visible) >= 0.9 * len(shot), f"he is visible on only {visible} of {list(shot)}"
        for f in shot:
            rows, cols = centre(where[f]["Y"])
            diff = np.abs(rendered.image_for_frame(f)[rows, cols].astype(int) - source[f][rows, cols].astype(int))
            assert diff.mean() > 3, f"frame {f}: the other man is not covered"
