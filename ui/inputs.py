"""Page and API values to validated Settings (settings_from_inputs). Every check is
Settings' own; this module only reads the form's values as they were meant (10.0 is 10, an
empty box is None), applies a cap only when its box is ticked, and takes the model only
from the allowlist (model_choice), before anything is loaded. DEFAULTS and the cap boxes'
default numbers are here too, for the page's and the API's signatures."""
from __future__ import annotations

from pipeline import Settings
from pipeline.errors import SettingsError
from pipeline.settings import TARGETS

from .i18n import tr
from .model_choice import resolve_model

DEFAULTS = Settings.__dataclass_fields__
DEFAULT_CAP_MB = 500.0  # shown in the cap boxes; applied only when the cap is ticked
DEFAULT_CAP_IMAGES = 1000


def _number(value):
    """A number from the page or the API, meaning unchanged: 10.0 becomes 10, but 2.5 stays
    2.5 (Settings refuses it for a whole-number field) and text that is not a number stays
    text (Settings names the field)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = float(value)
        except ValueError:
            return value.strip()[:40]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def settings_from_inputs(interval, scale_pct, limit_size, max_mb, limit_images, max_images,
                         image_format, jpeg_quality, style, mosaic_cells, pad_pct, conf, model,
                         hold_s=DEFAULTS["hold_s"].default, target=DEFAULTS["target"].default,
                         face_shape=DEFAULTS["face_shape"].default,
                         precision=DEFAULTS["precision"].default, voice=DEFAULTS["voice"].default,
                         mute_spans="", bleep=False, follow="", detail=DEFAULTS["detail"].default,
                         audit: str | None = None, encode=DEFAULTS["encode"].default) -> Settings:
    """Page/API values to validated Settings; every check is Settings' own. A cap applies
    only when its box is ticked (its number is then ignored, whatever it is); a ticked cap
    that is empty or 0 is an error, never silently 'no cap'. The model must be on the
    allowlist: that is checked here, before anything is loaded. `precision` is the CPU
    engine's (fp32 or int8); the device stays auto, so int8 detects on the CPU. `voice`,
    `mute_spans` (text: "12.5-14,61-63.2") and `bleep` are the video's sound's. `detail` is
    what of each frame the model sees (fast, full, max); `encode` how the video is written
    (fast or small)."""
    max_mb, max_images = _number(max_mb), _number(max_images)
    model_spec = resolve_model(model, target if target in TARGETS else "person")
    try:
        return Settings(
            interval=_number(interval),
            scale_pct=_number(scale_pct),
            max_mb=(0.0 if max_mb is None else max_mb) if limit_size else None,
            max_images=(0 if max_images is None else max_images) if limit_images else None,
            image_format=image_format,
            jpeg_quality=_number(jpeg_quality),
            style=style,
            mosaic_cells=_number(mosaic_cells),
            pad_pct=_number(pad_pct),
            conf=_number(conf),
            hold_s=_number(hold_s),
            target=target,
            face_shape=face_shape,
            precision=precision,
            detail=detail,
            model=model_spec,
            voice=voice,
            mute_spans="" if mute_spans is None else (mute_spans if isinstance(mute_spans, str) else str(mute_spans)),
            bleep=bleep,
            follow=follow or None,
            encode=encode or DEFAULTS["encode"].default,
            **({"audit": audit} if audit else {}),  # none given: Settings' default ($MOSAIC_AUDIT or sample)
        )
    except TypeError:  # a comparison Settings makes on a value of the wrong type
        raise SettingsError(tr("err.settings.numbers"), key="err.settings.numbers") from None

