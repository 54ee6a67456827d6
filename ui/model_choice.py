"""Which detection models the app may load: an allowlist, enforced on the server.

The app is public, and loading a .pt file unpickles it: a caller who could name any file
(an upload lands in Gradio's cache) could run code on the server. So callers choose a name
from this list and nothing else. The list is the YOLO11 sizes for each target (box, -seg,
-pose), the bundled person model, the face model, and what the operator configured: $MOSAIC_MODEL (with the -seg /
-pose forms the targets derive from it) and $MOSAIC_EXTRA_MODELS, a comma list of names or
paths. An operator's path never leaves the server: callers see and send only its file name.

An empty choice means the target's default model (pipeline.settings.default_model), left
unnamed: where YOLO's default weights cannot be loaded (offline), the bundled person model
runs instead and the result says so. Naming a YOLO model asks for that one or an error.
"""
from __future__ import annotations

import os
from pathlib import PurePath

from pipeline.errors import SettingsError
from pipeline.settings import BUNDLED_PERSON_MODEL, FACE_MODEL, TARGETS, default_model

from .i18n import DEFAULT_LANGUAGE, tr

EXTRA_MODELS_ENV_VAR = "MOSAIC_EXTRA_MODELS"
YOLO_SIZES = "nsmlx"
BUILTIN_MODELS = tuple(
    f"yolo11{size}{kind}.pt" for kind in ("", "-seg", "-pose") for size in YOLO_SIZES
) + (BUNDLED_PERSON_MODEL, FACE_MODEL)


def public_name(spec: str) -> str:
    """What callers see for a model: its file name, never the folder it is in."""
    return PurePath(spec.strip()).name or spec.strip()


def operator_models() -> list[str]:
    """The models the operator configured: every target's default (they follow
    $MOSAIC_MODEL), then $MOSAIC_EXTRA_MODELS in order."""
    extras = [m.strip() for m in os.environ.get(EXTRA_MODELS_ENV_VAR, "").split(",") if m.strip()]
    return [default_model(target) for target in TARGETS] + extras


def allowed_models() -> dict[str, str]:
    """Public name -> what the loader gets. Operator entries come first, so an operator's
    own yolo11n.pt file wins over the download of the same name."""
    allowed: dict[str, str] = {}
    for spec in [*operator_models(), *BUILTIN_MODELS]:
        allowed.setdefault(public_name(spec), spec)
    return allowed


def dropdown_choices(target: str = "person", lang: str = DEFAULT_LANGUAGE) -> list[tuple[str, str]]:
    """(label, value) pairs for the page: the default first (value ""), labelled in `lang`,
    then every name."""
    default = (tr("page.model.default", lang, default_model=public_name(default_model(target))), "")
    return [default, *((name, name) for name in allowed_models())]


def resolve_model(choice: str | None, target: str = "person") -> str:
    """The loader's model for a caller's choice; refuses anything outside the allowlist
    before anything is loaded. The refusal does not repeat the caller's text: it may be a
    probe for a server path, and the answer must not depend on what exists there."""
    name = (choice or "").strip() if isinstance(choice, str) or choice is None else None
    if name == "":
        return ""  # Settings makes it the target's default, and knows it was not named
    allowed = allowed_models()
    if name not in allowed:
        names = ", ".join(allowed)
        raise SettingsError(tr("err.settings.model", names=names), key="err.settings.model", values={"names": names})
    return allowed[name]
