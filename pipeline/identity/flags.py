"""The identity flags of `python -m pipeline` (and `live`): --keep-face, --only-face,
--face-match, --no-people. Kept here so cli.py only calls two functions."""
from __future__ import annotations

import argparse

from ..settings import Settings


def add_identity_flags(p: argparse.ArgumentParser) -> None:
    d = Settings.__dataclass_fields__
    p.add_argument("--keep-face", action="append", default=[], metavar="PHOTO",
                   help="leave the person in this photo (one face) unmasked everywhere in the video, whatever "
                   "the target; repeat for several people. A false match leaves a bystander visible: check "
                   "the review before you publish")
    p.add_argument("--only-face", action="append", default=[], metavar="PHOTO",
                   help="mask only the person in this photo (one face) and leave everyone else visible; "
                   "repeat for several people; not together with --keep-face")
    p.add_argument("--face-match", type=float, default=d["face_match"].default, metavar="D",
                   help="face descriptor distance under which two faces are one person; lower matches fewer "
                   "(default: %(default)s, from distances measured on the sample photos: docs/identity.md)")
    p.add_argument("--people-record", default=None, metavar="FOLDER",
                   help="also write a PRIVATE record to this new folder: each person's best face picture "
                   "(unmasked) and when they appear, to check the grouping; never inside the ZIP or video. "
                   "Do not publish it")
    p.add_argument("--no-people", action="store_true",
                   help="do not group tracks into people by face (no person column; faster)")


def identity_settings(args: argparse.Namespace) -> dict:
    return dict(keep_faces=tuple(args.keep_face), only_faces=tuple(args.only_face),
                face_match=args.face_match, people=not args.no_people,
                **({"people_record": args.people_record} if getattr(args, "people_record", None) else {}))
