"""Room media time carried on Pipecat frames.

Analytics count time from audio samples, not the wall clock (ARCHITECTURE principle 2). Room
connectors stamp each frame they push with the media time it belongs to; processors read it back
with :func:`media_time_of`. Frames without a stamp (for example audio pushed by Pipecat's own
DailyTransport) are stamped by the connector's clock before analytics see them.
"""

from __future__ import annotations

from typing import Any

MEDIA_TIME_KEY = "prism.media_time_ms"


def stamp(frame: Any, media_time_ms: int) -> Any:
    """Record ``media_time_ms`` on ``frame`` (in ``frame.metadata``) and return the frame."""
    frame.metadata[MEDIA_TIME_KEY] = int(media_time_ms)
    return frame


def media_time_of(frame: Any, default: int | None = None) -> int | None:
    """The media time stamped on ``frame``, its own ``media_time_ms`` field, or ``default``.

    The stamp is looked up first: audio frames, the per-20-ms case, only ever have the stamp.
    """
    metadata = getattr(frame, "metadata", None)
    if metadata:
        stamped = metadata.get(MEDIA_TIME_KEY)
        if stamped is not None:
            return int(stamped)
    value = getattr(frame, "media_time_ms", None)
    if value is not None:
        return int(value)
    return default
