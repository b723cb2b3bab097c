"""The room pipeline: the one place that lists the processors, in order.

::

    room.input()          Daily or simulated: per-participant audio, transcripts, chat, app messages
    (after_input)         connector-specific, first to see frames (Daily: MediaClockStamper stamps media time)
    ParticipantVAD        Silero per participant → speaking state (consumes the audio)
    ChatRouter            Daily Prebuilt chat app messages → ChatMessageFrame
    InboundMessages       every other app message validated as a browser envelope
    Pacing                words per minute, turns
    Dominance             talk-time shares, Gini, dominant speaker, monologue requests, joins/leaves
    Overlaps              backchannel / interruption / overlap
    Agenda                time boxes, topic-shift suggestions, wrap-up prompt
    PolicyEnforcer        ConversationPolicy on participants: turn limits, share nudges, content guard, chat rate
    Votes                 /vote in chat, room.vote.cast from browsers, tallies
    (facilitator)         optional LLM facilitator: FacilitatorInput → OpenAI LLM service → FacilitatorOutput
    PolicyOutputGate      ConversationPolicy on the bot's messages: content guard, bot rate limits
    (voice)               optional facilitator's voice: VoiceInput → Pipecat TTS service → VoiceOutput
                          (speaks in the room's silences, yields on barge-in; audio to room.output())
    EnvelopeSink          bus.publish + app messages to browsers
    room.output()

Adding a processor is one line here (docs/pipeline.md, "Adding a processor").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pipecat.frames.frames import TranscriptionFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameProcessor

from bot.analytics.agenda import AgendaItem as AgendaSpec
from bot.analytics.agenda import AgendaParams
from bot.analytics.speaking import GateParams
from bot.core.frames import ChatMessageFrame, InboundEnvelopeFrame, SpeakingStateFrame
from bot.events import EventRuntime
from bot.facilitator.brain import BOT_ID
from bot.policy import InboundRateLimiter, LoadedPolicy, default_policy
from bot.processors.agenda import Agenda
from bot.processors.chat import ChatRouter
from bot.processors.dominance import Dominance
from bot.processors.inbound import InboundMessages
from bot.processors.overlaps import Overlaps
from bot.processors.pacing import Pacing
from bot.processors.participant_vad import ParticipantVAD
from bot.processors.policy import PolicyEnforcer, PolicyOutputGate
from bot.processors.sink import EnvelopeSink
from bot.processors.votes import Votes

IDLE_FRAMES = (SpeakingStateFrame, TranscriptionFrame, ChatMessageFrame, InboundEnvelopeFrame)
"""Frames that prove the room is alive; the idle timeout (bot/session/idle.py) counts from the last
of them. ``InboundMessages`` reports them (``on_activity``): every one passes it."""


def build_room_pipeline(
    room: Any,
    runtime: EventRuntime,
    *,
    agenda: Sequence[Any] = (),
    after_input: Sequence[FrameProcessor] = (),
    policy: LoadedPolicy | None = None,
    limiter: InboundRateLimiter | None = None,
    facilitator: Sequence[FrameProcessor] = (),
    voice: Sequence[FrameProcessor] = (),
    on_activity: Callable[[], None] | None = None,
    gate: GateParams | None = None,
) -> Pipeline:
    """The processors between ``room.input()`` and ``room.output()``, in order.

    ``after_input``: connector-specific processors that must see frames first (the Daily room's
    ``MediaClockStamper``, which stamps media time on what Pipecat's DailyTransport pushes).
    ``policy``: the ConversationPolicy (default: the safe default); ``limiter``: the inbound rate
    limiter installed on ``runtime.inbound`` (told the media time on ticks); ``facilitator``: the
    LLM facilitator's processors (``bot.processors.facilitator.build_facilitator``), or none;
    ``voice``: the facilitator's voice (``bot.processors.voice.build_voice``), or none. It sits
    after every analytic (its audio is never analysed as a participant) and after the gate (it
    speaks only what passed the policy). ``on_activity``: called on every ``IDLE_FRAMES`` frame
    (the session's idle watch), or none. ``gate``: the speech detection's energy gate and model
    input parameters (``GateParams``; ``None``: the defaults), e.g. another
    ``model_gain_max_db`` (``BOT_VAD_MODEL_GAIN_DB``; 0 turns the model input gain off).
    """
    policy = policy or default_policy()
    report_app_messages_to = getattr(room, "report_app_messages_to", None)
    if report_app_messages_to is not None:  # the Daily room says what became of each app message
        report_app_messages_to(runtime.app_messages.record, runtime.app_messages.flush)
    items = [AgendaSpec(title=item.title, timebox_ms=item.timebox_ms) for item in agenda]
    agenda_params = AgendaParams(wrapup_lead_ms=policy.policy.facilitation.wrap_up_lead_ms)
    return Pipeline(
        [
            room.input(),
            *after_input,
            ParticipantVAD(report_onsets=bool(voice), gate=gate or GateParams()),
            ChatRouter(),
            InboundMessages(validator=runtime.inbound, on_activity=on_activity, activity_frames=IDLE_FRAMES),
            Pacing(transcribed=lambda: bool(getattr(room, "transcribed", True))),
            Dominance(),
            Overlaps(),
            Agenda(agenda=items, params=agenda_params),
            PolicyEnforcer(policy=policy, limiter=limiter, bot_id=BOT_ID),
            Votes(),
            *facilitator,
            PolicyOutputGate(policy=policy),
            *voice,
            EnvelopeSink(runtime=runtime),
            room.output(),
        ]
    )
