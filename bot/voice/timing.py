"""How well the voice kept its manners in a room: its speech against the room's real speech.

Plain functions (stdlib only) used by the scenario tests and ``benchmarks/voice_bench.py``: given the
participants' voiced intervals (ground truth) and the bot's speech spans (from
``facilitator.speech.*`` envelopes or the recorded track), measure

- **response**: from the end of the room's last speech before the bot started to its first audio
  (the gap included);
- **barge-in stop**: from a participant's onset while the bot spoke to the bot's last audio;
- **overlaps**: the bot started while a participant had been speaking for longer than the VAD
  can know (``detect_ms``): a breach of "never start while anyone speaks". A participant who
  starts within ``detect_ms`` before the bot (a simultaneous start nobody could see coming) is
  a barge-in the bot must yield to, counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.generated.topics import Topic

__all__ = ["VoiceTiming", "bot_spans", "measure"]


@dataclass
class VoiceTiming:
    """Per-room figures (ms, media time)."""

    utterances: int = 0
    response_ms: list[int] = field(default_factory=list)
    barge_in_stop_ms: list[int] = field(default_factory=list)
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    simultaneous_starts: int = 0
    bot_talk_ms: int = 0


def bot_spans(envelopes: Iterable[Mapping[str, Any]]) -> list[tuple[int, int, str]]:
    """``(start, end, stop reason)`` of each utterance from ``facilitator.speech.*`` envelopes."""
    starts: dict[str, int] = {}
    spans: list[tuple[int, int, str]] = []
    for e in envelopes:
        p = e.get("payload", {})
        if e.get("topic") == Topic.FACILITATOR_SPEECH_STARTED:
            starts[p["utteranceId"]] = p["mediaTimeMs"]
        elif e.get("topic") == Topic.FACILITATOR_SPEECH_STOPPED and p["utteranceId"] in starts:
            spans.append((starts.pop(p["utteranceId"]), p["mediaTimeMs"], p["reason"]))
    return spans


def measure(
    intervals: Mapping[str, Sequence[Sequence[int]]],
    spans: Iterable[tuple[int, int, str]],
    *,
    detect_ms: int = 100,
) -> VoiceTiming:
    """Compare the bot's ``spans`` with the participants' voiced ``intervals``."""
    out = VoiceTiming()
    voiced = [(int(a), int(b), pid) for pid, ivs in intervals.items() for a, b in ivs]
    for start, end, _reason in spans:
        out.utterances += 1
        out.bot_talk_ms += max(0, end - start)
        ended = [b for a, b, _ in voiced if b <= start]
        if ended and not any(a < start < b for a, b, _ in voiced):
            out.response_ms.append(start - max(ended))
        for a, b, pid in voiced:
            if a < start < b:
                if start - a > detect_ms:
                    out.overlaps.append({"participant": pid, "onset": a, "botStart": start, "botEnd": end})
                else:
                    out.simultaneous_starts += 1
                    out.barge_in_stop_ms.append(max(0, end - a))
            elif start <= a < end:
                out.barge_in_stop_ms.append(end - a)
    return out
