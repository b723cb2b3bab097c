"""A per-participant recording (one audio file per participant, as Daily's raw-tracks recording
gives) as a :class:`~bot.rooms.scenario.Scenario`, so the simulated room replays it through the
same pipeline as a live room: ``python -m bot --tracks alice.webm bob.webm``.

Each file is one participant, named after the file (``alice.webm`` → id ``alice``, name
``alice``), who joins at 0 ms and speaks the whole file (no transcript). The room lasts as long as
the longest file. Files decode with ``bot.rooms.audio_files`` (WAV/FLAC/OGG at any rate, Opus/WebM)
and are resampled to the room rate (16 kHz, or 8 kHz when every file is 8 kHz or lower). A file
that cannot be used is a one-line ``ScenarioError`` naming it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from bot.core.errors import ScenarioError
from bot.rooms.audio_files import AudioFileError, decode_audio
from bot.rooms.scenario import (
    DEFAULT_SAMPLE_RATE,
    STEP_MS,
    Event,
    JoinEvent,
    Participant,
    Scenario,
    SpeechEvent,
    load_scenario,
)

__all__ = ["participant_ids", "scenario_from_tracks", "session_scenario"]

_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def participant_ids(paths: Sequence[Path]) -> list[str]:
    """Ids from file stems (unsafe characters → ``-``), made unique with ``-2``, ``-3``..."""
    out: list[str] = []
    for path in paths:
        base = _ID_CHARS.sub("-", path.stem).strip("-") or "participant"
        pid, n = base, 1
        while pid in out:
            n += 1
            pid = f"{base}-{n}"
        out.append(pid)
    return out


def _native_rate(path: Path) -> int | None:
    try:
        import soundfile as sf

        return int(sf.info(str(path)).samplerate)
    except Exception:  # not a libsndfile format (Opus/WebM): decode at the default rate
        return None


def scenario_from_tracks(paths: Sequence[str | os.PathLike[str]], *, sample_rate: int | None = None) -> Scenario:
    """The scenario that replays one audio file per participant from 0 ms.

    Raises:
        ScenarioError: no file, or a file that is missing or cannot be decoded (names the file).
    """
    files = [Path(p) for p in paths]
    if not files:
        raise ScenarioError("--tracks", "needs at least one audio file")
    if sample_rate is None:
        rates = [_native_rate(f) for f in files]
        sample_rate = 8000 if all(r is not None and r <= 8000 for r in rates) else DEFAULT_SAMPLE_RATE
    ids = participant_ids(files)
    events: list[Event] = []
    for i, (pid, path) in enumerate(zip(ids, files, strict=True)):
        try:
            samples = decode_audio(path, sample_rate)
        except AudioFileError as exc:
            raise ScenarioError(path, str(exc)) from None
        samples.setflags(write=False)
        events.append(JoinEvent(index=2 * i, at_ms=0, participant=pid))
        events.append(
            SpeechEvent(
                index=2 * i + 1,
                at_ms=0,
                participant=pid,
                audio=str(path),
                audio_path=path.resolve(),
                text="",
                samples=samples,
                sample_rate=sample_rate,
            )
        )
    last_end = max(e.end_ms for e in events)
    duration = -(-last_end // STEP_MS) * STEP_MS
    return Scenario(
        path=files[0],
        name=files[0].parent.name or "tracks",
        sample_rate=sample_rate,
        duration_ms=duration,
        participants=tuple(Participant(id=pid, name=path.stem) for pid, path in zip(ids, files, strict=True)),
        agenda=(),
        events=tuple(sorted(events, key=lambda e: e.at_ms)),
    )


def session_scenario(simulate: Path | None, tracks: Sequence[Path] | None, default: Path) -> Scenario:
    """The scenario a simulated session plays: ``--tracks`` files, else ``--simulate``, else ``default``."""
    if tracks:
        return scenario_from_tracks(tracks)
    return load_scenario(simulate or default)
