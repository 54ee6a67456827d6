"""Google Drive links: which links are accepted and what file id they name, and how
download_drive_video maps every way a download can go wrong to one clear error. The
network is replaced through download_drive_video's `fetch=` injection point; nothing here
contacts a server."""
from __future__ import annotations

import functools
import shutil
import threading
import time
from pathlib import Path

import pytest

from mediakit import leftovers, read_zip
from pipeline import Cancelled, DownloadError, InputError, Settings, run, run_to_result
from pipeline.io import source as source_mod
from pipeline.io.source import DownloadState, download_drive_video, drive_file_id, looks_like_link

ID = "1AbC-d_EfGh2IjKlMnOpQrStUvWxYz345"


@pytest.mark.parametrize("link", [
    f"https://drive.google.com/file/d/{ID}/view",
    f"https://drive.google.com/file/d/{ID}/view?usp=sharing",
    f"https://drive.google.com/file/d/{ID}/view?usp=drive_link",
    f"https://drive.google.com/file/d/{ID}/edit",
    f"https://drive.google.com/file/d/{ID}",
    f"https://drive.google.com/open?id={ID}",
    f"https://drive.google.com/uc?id={ID}",
    f"https://drive.google.com/uc?id={ID}&export=download",
    f"https://drive.google.com/uc?export=download&id={ID}",
    f"https://docs.google.com/uc?export=download&id={ID}",
    f"https://drive.usercontent.google.com/download?id={ID}&export=download",
    f"http://drive.google.com/file/d/{ID}/view",
    f"drive.google.com/file/d/{ID}/view",
    f"  https://drive.google.com/file/d/{ID}/view  \n",
])
def test_drive_file_id_from_the_usual_link_forms(link):
    assert looks_like_link(link.strip())
    assert drive_file_id(link) == ID


@pytest.mark.parametrize("link", [
    "https://example.com/video.mp4",
    f"https://example.com/file/d/{ID}/view",
    f"https://drive.google.com.evil.example/file/d/{ID}/view",
    f"https://evil.example/?next=https://drive.google.com/file/d/{ID}/view",
    f"https://googledrive.com/file/d/{ID}/view",
    "file:///etc/passwd",
    f"file://drive.google.com/file/d/{ID}/view",
    f"ftp://drive.google.com/file/d/{ID}/view",
    f"javascript://drive.google.com/file/d/{ID}/view",
    f"https://user:secret@drive.google.com/file/d/{ID}/view",
    f"https://drive.google.com:8443/file/d/{ID}/view",
    "https://drive.google.com/drive/folders/1FolderIdOnly",
    "https://drive.google.com/",
    "https://drive.google.com/open?id=",
    "https://drive.google.com/uc?id=../../etc/passwd",
    "https://drive.usercontent.google.com/download?export=download",
])
def test_anything_but_a_drive_file_link_is_refused(link):
    with pytest.raises(DownloadError) as caught:
        drive_file_id(link)
    assert "\n" not in str(caught.value)
    assert "drive.google.com/file/d/FILE_ID/view" in str(caught.value)


@pytest.mark.parametrize("text,is_link", [
    ("clip.mp4", False), ("/videos/clip.mp4", False), ("C:\\videos\\clip.mp4", False),
    ("https://drive.google.com/file/d/x/view", True), ("www.example.com/a.mp4", True),
    ("drive.google.com/file/d/x/view", True), ("file:///tmp/a.mp4", True),
])
def test_looks_like_link(text, is_link):
    assert looks_like_link(text) is is_link


def _download(link, tmp_path, fetch, max_bytes=None, cancel=None):
    state = DownloadState()
    download_drive_video(link, tmp_path, state, cancel or threading.Event(), max_bytes, fetch=fetch)
    assert state.finished
    return state


LINK = f"https://drive.google.com/file/d/{ID}/view?usp=sharing"


def test_download_hands_the_file_id_and_reports_progress(excerpt, tmp_path):
    calls = []

    def fetch(file_id, dest_dir, progress, cancel):
        calls.append(file_id)
        size = excerpt.stat().st_size
        for done in (0, size // 2, size):
            progress(done, size)
        return Path(shutil.copy(excerpt, dest_dir / "holiday.mp4"))

    state = _download(LINK, tmp_path, fetch)
    assert calls == [ID]
    assert state.error is None
    assert state.path == tmp_path / "holiday.mp4" and state.path.read_bytes() == excerpt.read_bytes()
    assert state.bytes_done == state.bytes_total == excerpt.stat().st_size


def test_bad_link_never_reaches_fetch(tmp_path):
    def fetch(*args):
        raise AssertionError("fetch must not be called for a bad link")

    state = _download("https://example.com/x.mp4", tmp_path, fetch)
    assert isinstance(state.error, DownloadError) and state.path is None


def test_html_page_instead_of_video_is_a_clear_download_error(tmp_path):
    def fetch(file_id, dest_dir, progress, cancel):
        page = dest_dir / "uc"
        page.write_text("  <!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>")
        return page

    state = _download(LINK, tmp_path, fetch)
    assert isinstance(state.error, DownloadError)
    assert "web page" in str(state.error) and "Anyone with the link" in str(state.error)
    assert state.path is None


def test_empty_download_is_an_input_error(tmp_path):
    def fetch(file_id, dest_dir, progress, cancel):
        (dest_dir / "v.mp4").write_bytes(b"")
        return dest_dir / "v.mp4"

    state = _download(LINK, tmp_path, fetch)
    assert isinstance(state.error, InputError) and "empty" in str(state.error)


def test_private_or_quota_file_error_is_explained(tmp_path):
    from gdown.exceptions import FileURLRetrievalError

    def fetch(*args):
        raise FileURLRetrievalError("Failed to retrieve file url:\n\n\tCannot retrieve the public link of the file."
                                    "\n You may need to change the permission to 'Anyone with the link'")

    state = _download(LINK, tmp_path, fetch)
    assert isinstance(state.error, DownloadError)
    assert "private" in str(state.error) and "\n" not in str(state.error)


def test_network_failure_is_one_line(tmp_path):
    import requests

    def fetch(*args):
        raise requests.exceptions.ConnectionError("HTTPSConnectionPool(host='drive.google.com', port=443):\n"
                                                  "Max retries exceeded")

    state = _download(LINK, tmp_path, fetch)
    assert isinstance(state.error, DownloadError)
    text = str(state.error)
    assert "ConnectionError" in text and "Max retries exceeded" in text and "\n" not in text


def test_download_over_the_size_limit_is_stopped(tmp_path):
    written = []

    def fetch(file_id, dest_dir, progress, cancel):
        for done in range(0, 50_000_000, 1_000_000):
            progress(done, None)  # size unknown up front
            written.append(done)
        raise AssertionError("the download should have been stopped")

    state = _download(LINK, tmp_path, fetch, max_bytes=5_000_000)
    assert isinstance(state.error, DownloadError) and "5 MB" in str(state.error)
    assert max(written) <= 6_000_000


def test_download_announced_over_the_limit_is_stopped_at_once(tmp_path):
    def fetch(file_id, dest_dir, progress, cancel):
        progress(0, 2_000_000_000)
        raise AssertionError("the download should have been stopped")

    state = _download(LINK, tmp_path, fetch, max_bytes=100_000_000)
    assert isinstance(state.error, DownloadError)


def test_cancel_during_download(tmp_path):
    cancel = threading.Event()

    def fetch(file_id, dest_dir, progress, cancel_event):
        assert cancel_event is cancel
        progress(1000, 10_000)
        cancel.set()
        progress(2000, 10_000)
        raise AssertionError("the download should have been cancelled")

    state = _download(LINK, tmp_path, fetch, cancel=cancel)
    assert isinstance(state.error, Cancelled)


def test_gdown_cancellation_maps_to_cancelled(tmp_path):
    from gdown.exceptions import DownloadCancelled

    def fetch(*args):
        raise DownloadCancelled("stopped")

    assert isinstance(_download(LINK, tmp_path, fetch).error, Cancelled)


def test_run_with_a_drive_link_downloads_into_the_job_folder_and_cleans_up(excerpt, tmp_path, monkeypatch, box_detector):
    """The whole run on a Drive link, with the fetch replaced by a local copy: the output
    lands in the current folder under the downloaded file's name, and the download (in the
    job temp folder) is gone afterwards."""
    fetched = []

    def fetch(file_id, dest_dir, progress, cancel):
        fetched.append((file_id, dest_dir))
        progress(excerpt.stat().st_size, excerpt.stat().st_size)
        return Path(shutil.copy(excerpt, dest_dir / "plaza.mp4"))

    monkeypatch.setattr(source_mod, "download_drive_video", functools.partial(download_drive_video, fetch=fetch))
    work, cwd = tmp_path / "work", tmp_path / "cwd"
    work.mkdir(), cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = run_to_result(LINK, Settings(interval=10), detector=box_detector([]), work_dir=work)
    assert [f[0] for f in fetched] == [ID]
    assert fetched[0][1].parent == work and fetched[0][1].name.startswith("mosaic-job-")
    assert result.zip_path == cwd / "plaza_mosaic.zip"
    assert read_zip(result.zip_path).frame_indices() == [0, 10, 20]
    assert list(work.iterdir()) == []  # the downloaded video went with the job folder


def test_run_with_a_drive_link_that_returns_a_web_page(tmp_path, monkeypatch, box_detector):
    def fetch(file_id, dest_dir, progress, cancel):
        (dest_dir / "uc").write_text("<html><body>Sign in</body></html>")
        return dest_dir / "uc"

    monkeypatch.setattr(source_mod, "download_drive_video", functools.partial(download_drive_video, fetch=fetch))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DownloadError):
        run_to_result(LINK, Settings(), detector=box_detector([]), work_dir=tmp_path)
    assert leftovers(tmp_path) == []


def _slow_fetch(started: threading.Event):
    """A download that trickles bytes until cancelled, like gdown does with its cancel flag."""
    def fetch(file_id, dest_dir, progress, cancel):
        target = dest_dir / "big.mp4"
        with open(target, "wb") as handle:
            for chunk in range(10_000):
                if cancel.is_set():
                    raise Cancelled("Download cancelled")
                handle.write(b"\0" * 1000)
                progress((chunk + 1) * 1000, 10_000_000)
                started.set()
                time.sleep(0.01)
        return target
    return fetch


@pytest.mark.parametrize("how", ["cancel event", "generator closed"])
def test_stopping_a_run_mid_download_stops_the_download(tmp_path, monkeypatch, box_detector, how):
    started = threading.Event()
    monkeypatch.setattr(source_mod, "download_drive_video",
                        functools.partial(download_drive_video, fetch=_slow_fetch(started)))
    cancel = threading.Event()
    events = run(LINK, Settings(), output=tmp_path / "out.zip", detector=box_detector([]),
                 work_dir=tmp_path, cancel=cancel)
    assert next(events).stage == "downloading"
    assert started.wait(10)
    if how == "cancel event":
        cancel.set()
        with pytest.raises(Cancelled):
            for _ in events:
                pass
    else:
        events.close()
    deadline = time.monotonic() + 1.0
    while any(t.name == "mosaic-download" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(t.name == "mosaic-download" for t in threading.enumerate()), "download kept running"
    assert leftovers(tmp_path) == []
