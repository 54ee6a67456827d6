"""Face identity: descriptor distances on the sample photos, reference photo checks, people."""
from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.make_face_clip import shots
from pipeline.errors import InputError
from pipeline.identity.embed import RESNET_FILE, FaceEmbedder, distance, model_folder
from pipeline.identity.people import DEFAULT_THRESHOLD
from pipeline.identity.photos import face_finder, load_references

pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def embedder():
    return FaceEmbedder.load()


@pytest.fixture(scope="module")
def find():
    return face_finder()


def sample_faces(find, min_px: int = 20):
    """(label, image, box) of every face CenterFace finds in the sample photos; each is a
    different person (the clip's photos share nobody)."""
    faces = []
    for shot in shots():
        if not shot.photo.is_file():
            pytest.skip(f"{shot.photo} is not here")
        image = cv2.imread(str(shot.photo))
        for n, box in enumerate(find(image)):
            if min(box[2] - box[0], box[3] - box[1]) >= min_px:
                faces.append((f"{shot.photo.name}#{n}", image, box))
    return faces


def test_different_people_stay_apart_at_the_default_threshold(embedder, find):
    faces = sample_faces(find)
    assert len(faces) >= 6  # zidane 2, bus 2, messi 1, basketball 2 at this size
    vectors = {label: embedder.describe(image, box) for label, image, box in faces}
    for (a, va), (b, vb) in itertools.combinations(vectors.items(), 2):
        assert distance(va, vb) > DEFAULT_THRESHOLD, f"{a} and {b} would be one person"


def test_the_same_face_edited_stays_within_the_threshold(embedder, find):
    image = cv2.imread(str(shots()[0].photo))  # zidane.jpg: the right-hand man is the largest face
    box = find(image)[0]
    own = embedder.describe(image, box)
    w = image.shape[1]
    mirrored = np.ascontiguousarray(image[:, ::-1])
    small = cv2.resize(image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    dark = np.clip(small * 0.6, 0, 255).astype(np.uint8)
    assert distance(own, embedder.describe(mirrored, (w - box[2], box[1], w - box[0], box[3]))) < DEFAULT_THRESHOLD
    assert distance(own, embedder.describe(dark, tuple(v * 0.6 for v in box))) < DEFAULT_THRESHOLD


def test_the_torch_descriptor_is_dlibs_own_on_every_sample_face_and_its_edits(embedder, find):
    """FaceEmbedder.describe runs the torch port (no silent fallback), and on the same 5-point
    shape it gives dlib's own compute_face_descriptor: measured within 2e-6 (Euclidean),
    against 0.5 for a different person."""
    import dlib
    import torch

    from benchmarks.identity_distances import variants

    assert embedder.backend == "torch"
    threads = torch.get_num_threads()  # describe runs on one thread, then puts torch's count back
    reference = dlib.face_recognition_model_v1(str(model_folder() / RESNET_FILE))
    count = 0
    for label, image, box in sample_faces(find):
        for name, (img, b) in {"as is": (image, box), **variants(image, box)}.items():
            crop, shape = embedder.landmarks(img, b)
            own = np.asarray(reference.compute_face_descriptor(crop, shape), np.float32)
            gap = distance(own, embedder.describe(img, b))
            assert gap < 1e-4, f"{label} {name}: {gap} from dlib's descriptor"
            count += 1
    assert count >= 36, "6 versions of at least 6 faces"
    assert torch.get_num_threads() == threads


def test_a_network_file_the_reader_does_not_know_is_one_error_and_dlib_runs_it(tmp_path, monkeypatch, caplog, find):
    from pipeline.identity import resnet
    from pipeline.identity.dlib_weights import WeightsError, read_network

    data = (model_folder() / RESNET_FILE).read_bytes()
    for name, bad in (("short.dat", data[:-1000]), ("renamed.dat", data.replace(b"con_4", b"con_9", 1)),
                      ("longer.dat", data + b"\x01\x02")):
        (tmp_path / name).write_bytes(bad)
        with pytest.raises(WeightsError):
            read_network(tmp_path / name)

    def unknown(path):
        raise WeightsError("a layout this reader does not know")

    monkeypatch.setattr(resnet.FaceResNet, "load", staticmethod(unknown))
    slow = FaceEmbedder(model_folder())
    assert slow.backend == "dlib"
    assert "Face descriptors run in dlib" in caplog.text
    image = cv2.imread(str(shots()[0].photo))
    box = find(image)[0]
    crop, shape = slow.landmarks(image, box)
    own = slow._resnet.compute_face_descriptor(crop, shape)
    assert distance(np.asarray(own, np.float32), slow.describe(image, box)) == 0.0


def one_face_photo(tmp_path: Path, find) -> Path:
    image = cv2.imread(str(shots()[0].photo))
    x1, y1, x2, y2 = (int(v) for v in find(image)[0])
    pad = (x2 - x1) // 2
    crop = image[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad]
    path = tmp_path / "face.jpg"
    cv2.imwrite(str(path), cv2.resize(crop, None, fx=0.8, fy=0.8))
    return path


def bad_photo(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.jpg"
    if kind == "unreadable":
        path.write_text("not a picture")
    elif kind == "no_face":
        cv2.imwrite(str(path), np.full((240, 320, 3), 128, np.uint8))
    elif kind == "several":
        path = shots()[0].photo  # zidane.jpg: two men
    return path


@pytest.mark.parametrize("kind, words", [("missing", "does not exist"), ("unreadable", "not a picture"),
                                         ("no_face", "no face"), ("several", "2 faces")])
def test_a_bad_photo_is_one_clear_error(tmp_path, find, kind, words):
    good = one_face_photo(tmp_path, find)
    with pytest.raises(InputError, match=words):
        load_references([good, bad_photo(tmp_path, kind)], find=find)


def test_a_good_photo_is_one_reference_and_never_shows_its_descriptor(tmp_path, find):
    (reference,) = load_references([one_face_photo(tmp_path, find)], find=find)
    assert reference.descriptor.shape == (128,)
    assert repr(reference) == "Reference('face.jpg')"


def test_people_group_by_descriptor_never_merge_faces_on_screen_together_and_leave_the_unseen_alone():
    """People with a fake descriptor (the box's colour code): tracks 1 and 3 are the same
    face in two shots, track 2 is the same face on screen beside 1 (two people, however
    alike), track 4 is too small to describe (never seen from the front)."""
    from pipeline.detections import Detections
    from pipeline.identity.people import People

    codes = {1: 0.0, 2: 0.3, 3: 0.01, 4: 0.0}  # all within the threshold (0.5) of each other

    def describe(image, box):
        vector = np.zeros(128, np.float32)
        vector[0] = image[int(box[1]), int(box[0]), 0] / 100.0
        return vector

    people = People(describe)
    image = np.zeros((200, 400, 3), np.uint8)
    frames = {0: [(1, (10, 10, 60, 60)), (2, (100, 10, 150, 60))], 1: [(1, (10, 10, 60, 60))],
              5: [(3, (200, 10, 250, 60)), (4, (300, 10, 310, 20))]}
    for index, boxes in frames.items():
        for track, box in boxes:
            image[box[1], box[0], 0] = int(codes[track] * 100)
        people.observe(index, image, Detections(np.array([b for _, b in boxes], np.float32),
                                                track_id=np.array([t for t, _ in boxes])))
    assert people.person_of(1) == people.person_of(3), "the same face across a cut: one person"
    assert people.person_of(2) != people.person_of(1), "on screen together: two people"
    assert people.person_of(4) not in {people.person_of(t) for t in (1, 2, 3)}, "never described: its own"
    assert "0." not in repr(people)
