"""Load on the running app (issue 6): N concurrent /process calls through gradio_client on
loopback, one of them bad input. Every good call gets its own correct ZIP, the bad one gets
its clear message without disturbing the others, and no temp folder is left behind."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import SAMPLE, SAMPLE_FRAMES, SAMPLE_SIZE, running_app  # noqa: E402
from mediakit import image_size, read_zip  # noqa: E402

from gradio_client import Client, handle_file  # noqa: E402

N_CALLS = 4
SETTINGS = [  # (interval, scale %) per call: each result must show its own settings
    (4, 100),
    (5, 50),
    (8, 75),
    (10, 100),
]


def test_concurrent_calls_all_correct_and_nothing_leaks(tmp_path):
    server_tmp = tmp_path / "server-tmp"  # the app's TMPDIR: job temp folders go here
    server_tmp.mkdir()
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("this is not a video\n" * 50)
    with running_app(tmp_path / "app", MOSAIC_CONCURRENCY="2", TMPDIR=str(server_tmp)) as app:
        results: dict[int, object] = {}

        def call(slot: int) -> None:
            client = Client(app.url, verbose=False, download_files=str(tmp_path / f"dl{slot}"),
                            analytics_enabled=False)
            try:
                if slot == N_CALLS:  # the bad one, in the middle of the others
                    results[slot] = client.predict(handle_file(str(not_a_video)), api_name="/process")
                else:
                    interval, scale = SETTINGS[slot]
                    results[slot] = client.predict(handle_file(str(SAMPLE)), interval=interval,
                                                   scale_pct=scale, api_name="/process")[0]
            except Exception as err:
                results[slot] = err

        threads = [threading.Thread(target=call, args=(slot,)) for slot in range(N_CALLS + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert not any(t.is_alive() for t in threads), "a call did not return"

        for slot, (interval, scale) in enumerate(SETTINGS):
            value = results[slot]
            assert isinstance(value, str), f"call {slot}: {value!r}"
            contents = read_zip(Path(value))
            assert contents.frame_indices() == list(range(0, SAMPLE_FRAMES, interval))
            size = (round(SAMPLE_SIZE[0] * scale / 100), round(SAMPLE_SIZE[1] * scale / 100))
            assert {image_size(data) for data in contents.images.values()} == {size}
        assert len({results[slot] for slot in range(N_CALLS)}) == N_CALLS
        bad = results[N_CALLS]
        assert isinstance(bad, Exception) and "Not a readable video" in str(bad)
        assert "Traceback" not in str(bad)

        # One result folder per good call holding only its ZIP; the failed call left none.
        job_dirs = sorted(app.results_dir.iterdir())
        assert len(job_dirs) == N_CALLS
        for folder in job_dirs:
            assert sorted(p.suffix for p in folder.iterdir()) == [".html", ".json", ".zip"], list(folder.iterdir())
        leaked = sorted(p.name for p in server_tmp.iterdir() if p.name.startswith("mosaic-job-"))
        assert leaked == [], f"job temp folders left: {leaked}"


def test_upload_over_the_input_limit_is_refused(tmp_path):
    """MOSAIC_MAX_INPUT_MB caps uploads (Gradio's max_file_size); the 0.23 MB sample is over
    a 0.1 MB limit and never reaches a job."""
    with running_app(tmp_path / "app", MOSAIC_MAX_INPUT_MB="0.1") as app:
        client = Client(app.url, verbose=False, download_files=str(tmp_path / "dl"), analytics_enabled=False)
        with pytest.raises(Exception) as err:
            client.predict(handle_file(str(SAMPLE)), api_name="/process")
        assert "exceeds the maximum file size" in str(err.value), str(err.value)
        assert app.job_dirs() == set()
