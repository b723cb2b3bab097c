"""Audio helpers for the pipeline: Silero VAD inference over many participant streams."""

from bot.audio.silero_stream import SileroStreams, StreamStats, model_path

__all__ = ["SileroStreams", "StreamStats", "model_path"]
