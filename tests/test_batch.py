"""The batch CLI (issue 12): `python -m pipeline INPUT... -o OUT_DIR`.

A folder of three short clips (two of them named clip.mp4 in different subfolders) and one
broken file: three ZIPs mirroring the folder, the broken one reported with its reason, exit
1; the same command again skips all three; a partial output is redone; `--workers 2` gives
the same images (names and PNG pixels) as the serial run, even with one worker killed
mid-video (its video is redone, no partial file is left). Then the input forms (glob, @list, Drive folder
with the listing injected) and the output planning (names that would collide, an output
that would be an input) without running a video.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from batchkit import (
    BROKEN,
    CLIPS,
    COMMON,
    assert_same_outputs,
    kill_the_writer,
    outputs,
    run_cli,
    working_files,
)

from pipeline.batch.inputs import drive_folder_id, expand
from pipeline.batch.plan import Item, plan
from pipeline.errors import DownloadError


def _expected_zips() -> list[str]:
    return ["a/clip_mosaic.zip", "b/clip_mosaic.zip", "street_mosaic.zip"]


# -- one folder, serial ----------------------------------------------------------------------
def test_folder_gives_three_zips_mirroring_it_and_reports_the_broken_file(serial, videos):
    assert serial["code"] == 1, serial["stderr"]
    lines = serial["lines"]
    assert [Path(line["input"]).relative_to(videos).as_posix() for line in lines] == \
        sorted([*CLIPS, BROKEN], key=str.casefold)  # one line per input, in input order
    [broken] = [line for line in lines if line["input"].endswith(BROKEN)]
    assert broken["status"] == "failed" and "Not a readable video: broken.mp4" in broken["error"]
    done = [line for line in lines if line["status"] == "done"]
    assert len(done) == 3 and all(line["images"] == 3 and line["people_found"] > 0 for line in done)
    assert sorted(outputs(serial["out"])) == _expected_zips()
    assert working_files(serial["out"]) == []
    assert "1 failed" in serial["stderr"] and f"failed: {os.path.join(str(videos), BROKEN)}" in serial["stderr"]


def test_the_same_command_again_skips_all_three(serial, videos, model, capsys):
    before = {p: p.stat().st_mtime_ns for p in serial["out"].rglob("*.zip")}
    code, lines, err = run_cli([videos, "-o", serial["out"], "--model", model, *COMMON], capsys)
    assert code == 1  # the broken file still fails
    assert [line["status"] for line in lines] == ["skipped", "skipped", "failed", "skipped"]
    assert all("already there" in line["message"] for line in lines if line["status"] == "skipped")
    assert {p: p.stat().st_mtime_ns for p in serial["out"].rglob("*.zip")} == before
    assert "0 done, 3 skipped, 1 failed" in err


def test_a_partial_output_is_redone_and_its_working_file_removed(serial, videos, model, capsys, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(serial["out"], out)
    (out / "street_mosaic.zip").unlink()
    (out / "street_mosaic.zip.partial").write_bytes(b"half a zip from a killed run")
    (out / "b" / "clip_mosaic.zip").write_bytes(b"PK\x03\x04 not a finished zip")  # no central directory
    code, lines, _ = run_cli([videos, "-o", out, "--model", model, *COMMON], capsys)
    assert code == 1
    assert [line["status"] for line in lines] == ["skipped", "done", "failed", "done"]
    assert working_files(out) == []
    assert_same_outputs(out, serial["out"])


# -- local workers ----------------------------------------------------------------------------
def test_two_workers_give_the_same_images_even_when_one_is_killed_mid_video(serial, videos, model, capsys, tmp_path):
    """`--workers 2`: the same lines in the same order and the same images (names and PNG
    pixels) as the serial run, although one worker is killed (by this test, by its id)
    while it writes a video: that video is redone by a fresh worker, no .partial is left."""
    out = tmp_path / "out"
    killed: list[int] = []
    killer = threading.Thread(target=kill_the_writer, args=(out, killed), daemon=True)
    killer.start()
    code, lines, err = run_cli([videos, "-o", out, "--model", model, *COMMON, "--workers", "2"], capsys)
    killer.join(5)
    assert killed, "no worker was caught mid-video"
    assert code == 1, err
    assert [line["input"] for line in lines] == [line["input"] for line in serial["lines"]]
    assert [line["status"] for line in lines] == [line["status"] for line in serial["lines"]]
    assert working_files(out) == []
    assert_same_outputs(out, serial["out"])


# -- inputs and planning (no video is run) -------------------------------------------------------
def _names(items: list[Item], out: Path) -> list[str]:
    return [item.zip_path.relative_to(out).as_posix() if item.zip_path else item.note for item in items]


def test_globs_lists_and_folders_expand_in_order_each_video_once(videos, tmp_path, monkeypatch):
    out = tmp_path / "out"
    listing = tmp_path / "list.txt"
    listing.write_text(f"# the two clips\n{videos / 'a' / 'clip.mp4'}\n\n{os.path.relpath(videos / 'street.mp4', tmp_path)}\n")
    monkeypatch.chdir(tmp_path)
    found = expand([f"@{listing}", str(videos / "*" / "*.mp4"), str(videos)], out)
    assert [f.label for f in found][:2] == [str(videos / "a" / "clip.mp4"), os.path.relpath(videos / "street.mp4")]
    # the glob and the folder add only what the list did not name, once each
    assert sorted(Path(f.source).resolve().relative_to(videos).as_posix() for f in found) == \
        sorted([*CLIPS, BROKEN])
    assert [f.error for f in expand(["nothing/*.mp4", "@missing.txt"], out)] == \
        ["No file matches nothing/*.mp4", f"Cannot read the list {tmp_path / 'missing.txt'}: No such file or directory"]


def test_out_dir_inside_the_input_folder_is_not_read_back_as_input(videos, tmp_path):
    folder = tmp_path / "in"
    shutil.copytree(videos, folder)
    (folder / "out").mkdir()
    shutil.copy(folder / "street.mp4", folder / "out" / "street_mosaic.mp4")  # an earlier batch's video
    (folder / ".hidden.mp4").write_bytes(b"")
    found = expand([str(folder)], folder / "out")
    assert sorted(Path(f.source).relative_to(folder).as_posix() for f in found) == sorted([*CLIPS, BROKEN])


def test_outputs_with_the_same_name_move_apart_by_folder_or_extension(tmp_path, excerpt):
    for name in ("x/cam1/clip.mp4", "y/cam1/clip.mp4", "x/take.mp4", "x/take.mov", "solo.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(excerpt, tmp_path / name)
    out = tmp_path / "out"
    items = plan(expand([str(tmp_path / n) for n in
                         ("x/cam1/clip.mp4", "y/cam1/clip.mp4", "x/take.mp4", "x/take.mov", "solo.mp4")], out),
                 out, make_video=True)
    assert _names(items, out) == ["x/cam1/clip_mosaic.zip", "y/cam1/clip_mosaic.zip",
                                  "take.mp4_mosaic.zip", "take.mov_mosaic.zip", "solo_mosaic.zip"]
    assert [i.video_path.name for i in items][-1] == "solo_mosaic.mp4"
    # a folder input keeps its subfolders below OUT_DIR
    items = plan(expand([str(tmp_path / "x")], out), out)
    assert _names(items, out) == ["cam1/clip_mosaic.zip", "take.mov_mosaic.zip", "take.mp4_mosaic.zip"]


def test_an_output_that_would_be_an_input_fails_that_video_only(tmp_path, excerpt):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(excerpt, folder / "clip.mp4")
    shutil.copy(excerpt, folder / "clip_mosaic.mp4")  # the video output of clip.mp4, if OUT_DIR is here
    before = (folder / "clip_mosaic.mp4").read_bytes()
    items = plan(expand([str(folder / "clip.mp4"), str(folder / "clip_mosaic.mp4")], folder), folder,
                 make_video=True)
    assert items[0].state == "failed" and "is the same file as the input" in items[0].note
    assert items[1].state == "todo"
    assert (folder / "clip_mosaic.mp4").read_bytes() == before


def test_out_dir_that_is_a_file_stops_the_batch_with_one_line(videos, tmp_path, capsys):
    blocker = tmp_path / "out"
    blocker.write_text("a file")
    code, lines, err = run_cli([videos, "-o", blocker, "--model", "yolo11n.yaml"], capsys)
    assert code == 2 and lines == []
    assert err.strip().startswith("error: ") and len(err.strip().splitlines()) == 1


def test_drive_folder_links_are_listed_by_the_injected_lister_and_other_hosts_refused(tmp_path):
    link = "https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOpQrStUv"
    asked = []

    def lister(url):
        asked.append(url)
        return [("day1/cam.mp4", "id-1"), ("day2/cam.mp4", "id-2"), ("notes.txt", "id-3")]

    found = expand([link], tmp_path / "out", list_drive=lister)
    assert asked == [link]
    assert [f.source for f in found] == ["https://drive.google.com/uc?id=id-1", "https://drive.google.com/uc?id=id-2"]
    items = plan(found, tmp_path / "out")
    assert _names(items, tmp_path / "out") == ["day1/cam_mosaic.zip", "day2/cam_mosaic.zip"]
    assert drive_folder_id(link) == "1AbCdEfGhIjKlMnOpQrStUv"
    with pytest.raises(DownloadError, match="Only Google Drive links"):
        drive_folder_id("https://example.com/drive/folders/1AbCdEfGhIjKlMnOpQrStUv")
    [refused] = expand(["https://drive.google.com.evil.example/drive/folders/1AbCdEfGhIjKlMnOpQrStUv"],
                       tmp_path / "out", list_drive=lister)
    assert "Only Google Drive links" in refused.error and len(asked) == 1


def test_video_flag_in_a_batch_gives_back_the_input_it_swallowed(videos, tmp_path, capsys):
    from pipeline.cli.batch import batch_inputs
    from pipeline.cli import build_parser

    argv = ["--video", str(videos / "street.mp4"), str(videos / "a"), "-o", str(tmp_path)]
    args = build_parser().parse_args(argv)
    assert batch_inputs(argv, args) == [str(videos / "street.mp4"), str(videos / "a")] and args.video is True
    argv = [str(videos / "a"), "--ray", str(videos / "b"), "-o", str(tmp_path)]
    args = build_parser().parse_args(argv)
    assert batch_inputs(argv, args) == [str(videos / "a"), str(videos / "b")] and args.ray == "local"
    code, _, err = run_cli([videos / "street.mp4", "--video"], capsys)  # one input: --video needs its name
    assert code == 2 and "--video needs a file name" in err
