"""What a phone writes into a clip's container (GPS location, make and model, title,
comment) never reaches the outputs: not the --video MP4 (read back with PyAV and searched
byte by byte), not the ZIP's images (their bytes, EXIF and text chunks)."""
from __future__ import annotations

import io
import zipfile

import av
import numpy as np
import pytest
from audiokit import make_clip, tone
from mediakit import BoxDetector
from PIL import Image
from pipeline import run_to_result

from pipeline import Settings

TAGS = {"location": "+37.5665+126.9780/", "make": "AcmePhone", "model": "Model X9",
        "title": "Secret Interview", "comment": "Jane Doe at home"}
SECRETS = [b"AcmePhone", b"Model X9", b"Secret Interview", b"Jane Doe", b"+37.5665", b"126.978"]


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    """A MOV as a phone makes it (QuickTime tags: the mov muxer writes all of them)."""
    path = make_clip(tmp_path_factory.mktemp("meta") / "phone.mov", tone(2.0), 2.0, metadata=TAGS)
    with av.open(str(path)) as container:  # the source really carries them
        assert {k: container.metadata.get(k) for k in TAGS} == TAGS
    data = path.read_bytes()
    assert all(secret in data for secret in SECRETS[:5])
    return path


@pytest.mark.parametrize("voice, image_format", [("keep", "jpg"), ("mute", "png")])
def test_no_source_tags_in_the_video_or_the_images(tagged, tmp_path, voice, image_format):
    video = tmp_path / "out.mp4"
    # a box on every frame, so the images are real masked outputs
    result = run_to_result(str(tagged), Settings(interval=5, image_format=image_format, voice=voice),
                           output=tmp_path / "out.zip", video_output=video, detector=BoxDetector([(8, 8, 40, 40)]))
    with av.open(str(video)) as container:
        told = [container.metadata, *(stream.metadata for stream in container.streams)]
        assert container.streams.audio  # the audio is there: only the tags are gone
    for tags in told:
        values = " ".join(f"{k}={v}" for k, v in tags.items())
        assert not any(secret.decode() in values for secret in SECRETS), values
        assert not {"location", "make", "model", "title", "comment"} & {k.split("-")[0] for k in tags}, tags
    data = video.read_bytes()
    assert not [secret for secret in SECRETS if secret in data]

    with zipfile.ZipFile(result.zip_path) as archive:
        images = [name for name in archive.namelist() if name.endswith(image_format)]
        assert len(images) == result.images_written >= 4
        for name in images:
            raw = archive.read(name)
            assert not [secret for secret in SECRETS if secret in raw], name
            with Image.open(io.BytesIO(raw)) as image:
                assert not image.getexif(), name  # no EXIF at all (GPS, make, model live there)
                assert not {"exif", "comment", "XML:com.adobe.xmp", "icc_profile"} & set(image.info), image.info
                assert not getattr(image, "text", {}), name  # PNG tEXt/iTXt chunks
                assert np.asarray(image).shape[:2] == (48, 64)
            if image_format == "jpg":
                assert b"Exif\x00\x00" not in raw and b"\xff\xe1" not in raw[:64]  # no APP1 segment
