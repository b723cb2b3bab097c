"""The facilitator's voice: what the bot says aloud, when, and how it yields (plain logic, no Pipecat).

``VoiceDirector`` takes the room's speaking state and events on media time and decides what to
synthesize, when its audio may play (only in the room's silences), when it stops (barge-in) and
what it publishes; ``phrases`` holds the templates it speaks when no LLM phrases them. The thin
Pipecat adapters live in ``bot.processors.voice``; the TTS service factory in ``bot.voice.tts``.
"""

from bot.voice.director import Audio, Cut, VoiceDirector, VoiceParams

__all__ = ["Audio", "Cut", "VoiceDirector", "VoiceParams"]
