"""How a run's settings meet its outputs' audio, checked before any work.

- Voice and spans change the `--video` output's audio. A run that writes only the ZIP
  (images have no sound) has nothing for them to act on: that is a SettingsError, not a
  silent no-op, so nobody believes a ZIP-only run "muted" something.
- Spans are checked against the probed duration (spans.check_spans).
- A source without audio gives a video without audio: nothing to disguise or silence, which
  is what the options ask for; the run goes on and its Result says so in a note.
"""
from __future__ import annotations

from ..errors import Message, SettingsError
from .spans import check_spans
from .voice import AudioEdit

NO_AUDIO_NOTE = Message("The source has no audio, so the video has none: the voice and mute-span settings "
                        "had nothing to change.", "warn.no_audio")


def audio_edit(settings) -> AudioEdit:
    """What the video sink does to the source's audio, from the run's Settings."""
    return AudioEdit(voice=settings.voice, spans=tuple(settings.mute_spans), bleep=settings.bleep)


def check_audio_request(settings, makes_video: bool, detect_only: bool = False) -> None:
    """Before any work: audio settings on a run without a video output are refused (a
    detect-only run is exempt: its review is rendered later with the same settings)."""
    if audio_edit(settings).changes and not makes_video and not detect_only:
        raise SettingsError("Invalid settings: the voice and mute-span settings change the sound of the video "
                            "output, and this run makes no video, only a ZIP of images (which have no sound): ask "
                            "for the video too (--video; make_video in the API; 'Also make the mosaicked video' "
                            "on the page), or leave them out.", key="err.voice_needs_video")


def check_audio_against(settings, duration_s: float) -> None:
    """Once the source is probed: every span inside the video (SettingsError otherwise)."""
    check_spans(settings.mute_spans, duration_s)


def audio_notes(settings, has_audio: bool, makes_video: bool) -> list[Message]:
    """Notes for the Result: audio settings that found no audio to change."""
    if makes_video and not has_audio and audio_edit(settings).changes:
        return [NO_AUDIO_NOTE]
    return []
