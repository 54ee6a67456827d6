"""/process and /render with face photos, through gradio_client against the real app:
keep_faces leaves the man visible in both shots and covers the other; a photo without a
face is one clear error and leaves no result folder; a path on the server is not a photo."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dlib")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_server import running_app
from gradio_client import handle_file
from identity_clips import two_shot_clip
from mediakit import decode_frames, read_zip

from pipeline.identity.photos import face_finder

PER_SHOT = 16


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("identity-app")) as server:
        yield server


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return two_shot_clip(tmp_path_factory.mktemp("clip"), face_finder(), PER_SHOT)


def centre(box, share: float = 0.3):
    x1, y1, x2, y2 = box
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, share * (x2 - x1) / 2, share * (y2 - y1) / 2
    return slice(int(cy - hh), int(cy + hh)), slice(int(cx - hw), int(cx + hw))


def test_process_with_keep_faces(client, clip):
    video, where, reference = clip
    result, summary = client.predict(handle_file(str(video)), target="face", interval=1, image_format="png",
                                     style="fill", keep_faces=[handle_file(str(reference))], api_name="/process")
    assert summary.startswith("Done"), summary
    contents, source = read_zip(Path(result)), decode_frames(video)
    for shot in (range(PER_SHOT), range(PER_SHOT, 2 * PER_SHOT)):
        seen = [f for f in shot if np.array_equal(contents.image_for_frame(f)[centre(where[f]["X"])],
                                                   source[f][centre(where[f]["X"])])]
        assert len(seen) >= 0.9 * len(shot), seen
        for f in shot:
            assert contents.image_for_frame(f)[centre(where[f]["Y"])].std() < 4, f"frame {f}: Y not covered"
    assert "descriptor" not in summary.lower()


def test_a_photo_without_a_face_is_one_clear_error(app, client, clip, tmp_path):
    import cv2

    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((200, 200, 3), 90, np.uint8))
    before = app.job_dirs()
    with pytest.raises(Exception) as raised:
        client.predict(handle_file(str(clip[0])), target="face", only_faces=[handle_file(str(wall))],
                       api_name="/process")
    assert "wall.png shows no face" in str(raised.value) and "Traceback" not in str(raised.value)
    assert app.job_dirs() == before


def test_a_server_path_is_not_a_photo(clip):
    from pipeline.errors import InputError
    from ui.faces import face_photos

    with pytest.raises(InputError, match="Upload the face photos"):
        face_photos([str(clip[2])])  # a file on the server, not in Gradio's upload cache
