"""DailyRoom: the bot's connector to a real Daily room, the same shape as ``SimulatedRoom``.

It wraps Pipecat's ``DailyTransport`` and adds what a room-analytics bot needs on top: a join the
session can retry *before* the pipeline exists, audio (and Daily transcription) for the
participants already in the room as well as later joiners, ``ParticipantJoinedFrame`` /
``ParticipantLeftFrame`` on the room's media clock, and a clean leave.

How joining works (pipecat 1.14): ``DailyTransport`` joins in ``DailyInputTransport.setup()``,
during pipeline start-up, and a failed join is only logged and pushed as a non-fatal
``ErrorFrame``: the pipeline runs on, not in the room. So ``DailyRoom.join()`` drives the shared
``DailyTransportClient`` itself, before any pipeline is built: it sets the client up with its own
task manager and calls ``client.join()``. The client's ``setup``/``join``/``leave``/``cleanup`` are
reference counted (``pipecat.utils.shared``), so when the pipeline later sets up the input and
output transports they find the client ready and joined and do nothing; ``close()`` drops the
room's own reference last, which leaves the room and releases the client. A failed attempt
releases its client and the next attempt builds a fresh transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from loguru import logger
from pipecat.clocks.system_clock import SystemClock
from pipecat.frames.frames import CancelFrame, EndFrame, EndWorkerFrame, StartFrame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.transports.daily.transport import (
    DailyInputTransport,
    DailyOutputTransport,
    DailyParams,
    DailyTransport,
    _CallState,
)
from pipecat.utils.asyncio.task_manager import TaskManager

from bot.config.secrets import SecretScrubber
from bot.core.frames import ParticipantJoinedFrame, ParticipantLeftFrame, RoomEndedFrame
from bot.core.media import stamp
from bot.rooms.app_message_delivery import AppMessageDelivery, OnOutcome
from bot.rooms.daily_errors import CallDrop, classify_drop, classify_join_error
from bot.rooms.urls import ROOM_ID_MAX, room_id_from_url, sanitize_room_url, split_room_url  # noqa: F401 (re-exported)

__all__ = [
    "AUDIO_SOURCE",
    "DailyJoinError",
    "DailyRoom",
    "DailyRoomInput",
    "MediaClock",
    "install_nonblocking_audio_hop",
    "room_id_from_url",
    "sanitize_room_url",
    "split_room_url",
]

AUDIO_SOURCE = "microphone"
"""The participant track the bot listens to."""

TRANSCRIPTION_START_FAILED = "Unable to start transcription:"
"""How Pipecat 1.14's ``_on_joined`` reports a refused ``start_transcription`` (to ``on_error`` only)."""

# --------------------------------------------------------------------------------------------
# Media clock
# --------------------------------------------------------------------------------------------


class MediaClock:
    """Room media time: monotonic milliseconds since the bot joined (0 before that).

    Example::

        clock = MediaClock(); clock.start(); clock.now_ms()  # → 0, 1, 2, ...
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._t0: float | None = None

    def start(self) -> None:
        """Start counting (idempotent)."""
        if self._t0 is None:
            self._t0 = self._monotonic()

    @property
    def started(self) -> bool:
        return self._t0 is not None

    def now_ms(self) -> int:
        """Milliseconds since :meth:`start`."""
        if self._t0 is None:
            return 0
        return max(0, int((self._monotonic() - self._t0) * 1000))


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class DailyJoinError(Exception):
    """One join attempt failed. The message is free of tokens.

    Attributes:
        retryable: whether another attempt may succeed (read by ``join_with_retries``); ``False``
            for the permanent classes of :func:`bot.rooms.daily_errors.classify_join_error`.
        kind: the error's class (``token``, ``no_room``, ``full``, ``network``, …).
    """

    def __init__(self, message: str, *, retryable: bool = True, kind: str = "unknown") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.kind = kind

    @classmethod
    def classified(cls, message: str, daily_error: str) -> DailyJoinError:
        """An attempt's error, permanent or transient as ``daily_error`` (Daily's text) says."""
        found = classify_join_error(daily_error)
        hint = f" ({found.hint})" if found.hint and found.hint not in message else ""
        return cls(message + hint, retryable=not found.permanent, kind=found.kind)


# --------------------------------------------------------------------------------------------
# Pipecat subclasses: hooks into the transport's participant and join callbacks
# --------------------------------------------------------------------------------------------


class DailyRoomInput(DailyInputTransport):
    """``DailyInputTransport`` that announces the room when the pipeline starts.

    On ``StartFrame`` it pushes a ``ParticipantJoinedFrame`` for everyone already in the room and
    queues their audio capture before Pipecat starts streaming; later joiners are announced as
    they come. Every other behaviour is Pipecat's: per-participant ``UserAudioRawFrame`` (20 ms),
    ``TranscriptionFrame`` from Daily transcription, ``DailyInputTransportMessageFrame`` for app
    messages (chat included), unchanged.
    """

    def __init__(
        self, transport: DailyTransport, client: Any, params: DailyParams, *, room: DailyRoom, **kwargs: Any
    ) -> None:
        super().__init__(transport, client, params, **kwargs)
        self._room = room

    async def start(self, frame: StartFrame) -> None:
        await self._room._on_input_starting(self)
        await super().start(frame)

    async def stop(self, frame: EndFrame) -> None:
        self._room._on_input_stopped()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        self._room._on_input_stopped()
        await super().cancel(frame)


class DailyRoomOutput(DailyOutputTransport):
    """``DailyOutputTransport`` whose app messages go through the room's :class:`AppMessageDelivery`.

    Pipecat's own ``send_message`` reports a send to a disconnected call as a success and waits
    on daily-core without limit; this one reports every outcome and bounds each send.
    """

    def __init__(
        self, transport: DailyTransport, client: Any, params: DailyParams, *, room: DailyRoom, **kwargs: Any
    ) -> None:
        super().__init__(transport, client, params, **kwargs)
        self._room = room

    async def send_message(self, frame: Any) -> None:
        await self._room.delivery.send(self._client, frame)

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        self._room.delivery.finished()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        self._room.delivery.finished()


class _RoomTransport(DailyTransport):
    """``DailyTransport`` with the room's hooks on join, errors, participants and call state.

    The overridden ``_on_*`` methods are the transport's own callbacks (pipecat 1.14, pinned
    ``<1.15``); each records what the room needs and then runs Pipecat's code. They run in order
    on the client's single event task, so joins and leaves are never reordered.
    """

    def __init__(self, room: DailyRoom, room_url: str, token: str | None, bot_name: str, params: DailyParams) -> None:
        self._room = room
        self.join_data: Mapping[str, Any] | None = None
        self.errors: list[str] = []
        super().__init__(room_url, token, bot_name, params)

    def input(self) -> DailyRoomInput:
        if not self._input:
            self._input = DailyRoomInput(self, self._client, self._params, room=self._room, name=self._input_name)
        return self._input  # type: ignore[return-value]  # Pipecat types _input as its base input; set just above

    def output(self) -> DailyRoomOutput:
        if not self._output:
            self._output = DailyRoomOutput(self, self._client, self._params, room=self._room, name=self._output_name)
        return self._output  # type: ignore[return-value]

    async def _on_joined(self, data: Any) -> None:
        self.join_data = data or {}
        await super()._on_joined(data)  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated

    async def _on_error(self, error: Any) -> None:
        message = self._room._scrub(str(error))
        self.errors.append(message)
        if message.startswith(TRANSCRIPTION_START_FAILED):  # Pipecat's _on_joined, with daily-core's answer
            self._room._transcription_failed(message[len(TRANSCRIPTION_START_FAILED) :].strip())
        if self._input is None and self._output is None:
            # Our own join, before any pipeline: Pipecat would raise here ("No valid input or
            # output channel"). Record it; join() reports it.
            await self._call_event_handler("on_error", message)
            return
        await super()._on_error(message)  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated

    async def _on_daily_error(self, message: Any) -> None:
        text = self._room._scrub(str(message))
        self.errors.append(text)
        logger.warning(f"Daily reported an error in room {self._room.room_id}: {text}")

    async def _on_participant_joined(self, participant: Any) -> None:
        if str(participant.get("id") or "") in self._room.present:
            return  # already known (present at join, or a repeated event): captured once only
        # Pipecat captures the new participant's audio itself when the input exists; note that
        # now (no await between this check and Pipecat's).
        pipecat_captures = (
            self._input is not None and self._params.audio_in_enabled and self._params.audio_in_user_tracks
        )
        await super()._on_participant_joined(participant)  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated
        await self._room._on_participant_joined(participant, audio_captured=pipecat_captures)

    async def _on_participant_left(self, participant: Any, reason: Any) -> None:
        await self._room._on_participant_left(participant, reason)
        await super()._on_participant_left(participant, reason)  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated
        # Pipecat keeps every participant it was asked to transcribe and sends the whole list on
        # each update: one who left stays "requested" for the rest of the call. Forget them.
        pid = str(participant.get("id") or "")
        ids = self._client._transcription_ids
        if pid in ids:
            ids[:] = [i for i in ids if i != pid]
            if ids and self._client._transcription_status and self._room.transcription_status == "on":
                await self._client.update_transcription(ids)

    async def _on_transcription_error(self, message: Any) -> None:
        self._room._transcription_failed(self._room._scrub(str(message)))
        await super()._on_transcription_error(message)  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated

    async def _on_transcription_stopped(self, stopped_by: Any, stopped_by_error: Any) -> None:
        if stopped_by_error:
            self._room._transcription_failed(f"stopped by an error ({stopped_by})")
        await super()._on_transcription_stopped(stopped_by, stopped_by_error)  # type: ignore[no-untyped-call]

    async def _on_call_state_updated(self, state: str) -> None:
        self._room._on_call_state(state)
        await super()._on_call_state_updated(state)


# --------------------------------------------------------------------------------------------
# The room
# --------------------------------------------------------------------------------------------


def _drop(*_args: Any) -> None:
    """Swallow a late Daily callback of an abandoned client."""


def _install_safe_completions() -> None:
    """Make Pipecat's Daily completion callbacks harmless once their event loop has closed.

    ``completion_callback`` (pipecat 1.14) hands daily-core's answer to the loop with
    ``call_soon_threadsafe``, which raises on a closed loop: an abandoned join answering after the
    process finished its session would print a traceback from daily-core's thread. Same behaviour
    otherwise; installed once, when the first ``DailyRoom`` is made.
    """
    import pipecat.transports.daily.transport as daily_transport

    if getattr(daily_transport.completion_callback, "_prism_safe", False):
        return

    def completion_callback(future: asyncio.Future[Any]) -> Callable[..., None]:
        loop = future.get_loop()

        def set_result(*args: Any) -> None:
            if future.done():
                return
            with contextlib.suppress(asyncio.InvalidStateError):
                future.set_result(args if len(args) > 1 else args[0] if args else None)

        def callback(*args: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
                loop.call_soon_threadsafe(set_result, *args)

        return callback

    completion_callback._prism_safe = True  # type: ignore[attr-defined]  # marks our replacement: installed once
    daily_transport.completion_callback = completion_callback


def _release_quietly(call_client: Any) -> None:
    try:
        call_client.release()
    except Exception:  # best effort on a background thread
        pass


ABANDON_LEAVE_TIMEOUT_S = 30.0
"""How long an abandoned client's ``leave()`` may wait for its pending join before release anyway."""


def _leave_and_release(call_client: Any, leave_timeout_s: float = ABANDON_LEAVE_TIMEOUT_S) -> None:
    """Leave, then release, an abandoned ``CallClient`` (on a background thread; both block).

    daily-core answers ``leave()`` only once the pending join has ended. If that join completes
    after all, the bot is in the room: ``leave()`` takes it out, so a late join never leaves a
    second bot behind when the next attempt joins. ``release()`` follows either way.
    """
    done = threading.Event()
    try:
        call_client.leave(completion=lambda *_: done.set())
        done.wait(leave_timeout_s)
    except Exception:  # best effort on a background thread: release below regardless
        pass
    try:
        call_client.release()
    except Exception:
        pass


def install_nonblocking_audio_hop(client: Any) -> None:
    """Hand ``client``'s audio chunks to the event loop without blocking daily-core's thread.

    Pipecat 1.14 queues every 20 ms chunk of every participant with
    ``run_coroutine_threadsafe(queue.put(...)).result()``: a coroutine and a future per chunk, and
    daily-core's thread waits until the loop has run it (1000 waits a second at 20 people;
    ``benchmarks/daily_hop_bench.py``). The audio queue is unbounded, so ``put_nowait`` scheduled
    with ``call_soon_threadsafe`` does the same in the same order, without the wait. A chunk that
    arrives once the loop has closed is dropped, as Pipecat's cancelled future drops it.
    """

    def call_audio_callback(callback: Any, *args: Any) -> None:
        queue = client._audio_queue
        try:
            loop = client._get_event_loop()
            loop.call_soon_threadsafe(queue.put_nowait, (callback, *args))
        except RuntimeError:  # the loop has closed (or the client has no task manager any more)
            pass
        except Exception:
            pass

    client._call_audio_callback = call_audio_callback


def _forward_daily_errors(transport: _RoomTransport) -> None:
    """Hear daily-core's ``on_error`` events, which Pipecat 1.14's client does not implement.

    daily-python calls ``on_error(message)`` on the event handler (the client) for errors outside
    any call it made: being ejected, the meeting ending, reconnection given up. Pipecat's
    ``DailyTransportClient`` has no such method, so they were lost; the message is what says why
    a call dropped. It is queued on the client's event task like every other event (in order,
    after the join).
    """
    client = transport._client

    def on_error(message: Any) -> None:
        client._call_event_callback(transport._on_daily_error, message)

    client.on_error = on_error  # type: ignore[method-assign]  # daily-python looks it up on the instance


def _display_name(participant: Mapping[str, Any]) -> str | None:
    info = participant.get("info") or {}
    name = info.get("userName") if isinstance(info, Mapping) else None
    return str(name)[:200] if name else None


def _is_local(key: str, participant: Mapping[str, Any]) -> bool:
    info = participant.get("info") or {}
    return key == "local" or (isinstance(info, Mapping) and bool(info.get("isLocal")))


def _has_daily_fallback(host: str) -> bool:
    """Whether daily-python can reach ``host``'s rooms without this lookup (its fallback domains)."""
    host = host.lower().rstrip(".")
    return host == "daily.co" or host.endswith(".daily.co")


def _left_reason(reason: Any) -> str:
    text = str(reason or "left")
    return "left" if text in ("leftCall", "left") else text


class DailyRoom:
    """A Daily room: join with retries before the pipeline, then ``input()``/``output()`` like ``SimulatedRoom``.

    Args:
        room_url: the room URL; a ``?t=`` meeting token in it is used as the token and never
            passed on or printed.
        token: Daily meeting token (overrides one in the URL). Needed for Daily transcription.
        bot_name: the bot's name in the room.
        transcription: start Daily transcription and transcribe every participant (the token
            must allow it: an owner token, or a room with transcription enabled).
        voice: publish the bot's microphone track (the facilitator's voice, ``bot.processors.voice``);
            off, the bot sends no audio at all.
        sample_rate: audio rate the participants' tracks are resampled to (Silero needs 16000).
        join_timeout_s: limit of one ``client.join()`` call.
        dns_timeout_s: limit of the host lookup made before each attempt; ``None`` skips it.
        resolver: (tests) ``(host, port) -> awaitable`` used instead of the loop's getaddrinfo.
        scrubber: shared secret scrubber (the token is added to it).
        app_message_timeout_s: limit of one app message send (then it counts as ``timed_out``).

    Attributes:
        url: the sanitized room URL (for events); ``room_id``: its last path segment.
        present: participants in the room now, id → display name (the bot excluded).
        clock: the room's :class:`MediaClock`, started at join.
        disconnected: set when the call ends underneath the bot (ejected, meeting ended).

    Example::

        room = DailyRoom(url, token=token, transcription=True)
        await join_with_retries(room.join, attempts=3)
        pipeline = Pipeline([room.input(), MediaClockStamper(clock=room.clock.now_ms), ..., room.output()])
        try: await runner.run()
        finally: await room.close()
    """

    def __init__(
        self,
        room_url: str,
        *,
        token: str | None = None,
        bot_name: str = "Prism Facilitator",
        transcription: bool = False,
        voice: bool = False,
        sample_rate: int = 16000,
        join_timeout_s: float = 20.0,
        dns_timeout_s: float | None = 5.0,
        resolver: Callable[[str, int], Any] | None = None,
        scrubber: SecretScrubber | None = None,
        app_message_timeout_s: float = 5.0,
    ) -> None:
        _install_safe_completions()
        clean, url_token = split_room_url(room_url)
        if urlsplit(clean).scheme not in ("http", "https") or not urlsplit(clean).hostname:
            raise ValueError("room URL must be an http(s) URL such as https://your-domain.daily.co/room")
        self.url = clean
        self.room_id = room_id_from_url(clean)
        self._token = token or url_token
        self._scrubber = scrubber if scrubber is not None else SecretScrubber()
        self._scrubber.add(self._token)
        self.bot_name = bot_name
        self.transcription = transcription
        self.sample_rate = sample_rate
        self._join_timeout_s = join_timeout_s
        self._dns_timeout_s = dns_timeout_s
        self._resolver = resolver
        self.params = DailyParams(
            audio_in_enabled=True,
            audio_in_user_tracks=True,
            audio_in_sample_rate=sample_rate,
            audio_in_channels=1,
            audio_in_passthrough=True,
            audio_out_enabled=voice,
            audio_out_end_silence_secs=0,
            microphone_out_enabled=voice,
            camera_out_enabled=False,
            video_in_enabled=False,
            video_out_enabled=False,
            transcription_enabled=transcription,
        )
        self.clock = MediaClock()
        self.present: dict[str, str | None] = {}
        self.disconnected = asyncio.Event()
        self._presence_changed = asyncio.Event()
        self._transport: _RoomTransport | None = None
        self._task_manager: TaskManager | None = None
        self._joined = False
        self._closing = False
        self._input: DailyRoomInput | None = None
        self._input_started = False
        self._audio_captured: set[str] = set()
        self._transcribed: set[str] = set()
        self.delivery = AppMessageDelivery(timeout_s=app_message_timeout_s)
        self.transcription_status: str = "off"
        """``off`` (not asked for), ``on`` (started at join), ``failed`` (Daily refused or stopped it)."""
        self.transcription_error: str | None = None
        self.drop: CallDrop | None = None
        """Why the call ended underneath the bot, once ``disconnected`` is set."""
        self._errors_at_join = 0

    # -- joining --------------------------------------------------------------------------------

    @property
    def joined(self) -> bool:
        return self._joined

    @property
    def transcribed(self) -> bool:
        """Whether transcripts reach the pipeline (pacing says ``no_words`` when they do not)."""
        return self.transcription_status == "on"

    @property
    def transport(self) -> _RoomTransport:
        """The joined ``DailyTransport`` (for event handlers the session may add)."""
        if self._transport is None or not self._joined:
            raise RuntimeError("DailyRoom: join() first")
        return self._transport

    async def join(self, attempt: int = 1) -> int:
        """One join attempt; returns how many participants were already in the room.

        Looks the host up first (an unresolvable host fails in milliseconds instead of the
        ~19 s daily-core takes), then builds a fresh transport and joins it, bounded by
        ``join_timeout_s``. Use it as ``join_with_retries(room.join, ...)``'s ``attempt_join``.

        Raises:
            DailyJoinError: this attempt failed (message free of secrets).
        """
        if self._joined:
            raise RuntimeError("DailyRoom: already joined")
        if self._closing:
            raise DailyJoinError("the room is closing", retryable=False)
        await self._release()
        await self._resolve_host()
        transport = self._new_transport()
        self._transport = transport
        client = transport._client
        self._task_manager = TaskManager(loop=asyncio.get_running_loop())
        setup = FrameProcessorSetup(
            clock=SystemClock(),
            task_manager=self._task_manager,
            pipeline_worker=None,  # type: ignore[arg-type]  # the client reads the task manager and rates only
            audio_in_sample_rate=self.sample_rate,
        )
        t0 = time.monotonic()
        failure: str | None = None
        abandoned = False
        try:
            await client.setup(setup)
            await asyncio.wait_for(client.join(), timeout=self._join_timeout_s)
        except TimeoutError:
            # Even when daily-core completed the join a moment ago (join_data is set), this
            # attempt is over: the client is abandoned, which leaves the call once the join ends.
            failure = f"Daily did not complete the join within {self._join_timeout_s:g}s"
            abandoned = True
            await self._abandon()
        except asyncio.CancelledError:
            await self._abandon()  # e.g. the retry budget ran out mid-join
            self._reset_call_state()
            raise
        except Exception as exc:  # a failing join must become one attempt's error, not a crash
            failure = f"{type(exc).__name__}: {exc}"
        if abandoned or transport.join_data is None:
            detail = transport.errors[-1] if transport.errors and not abandoned else (failure or "join failed")
            detail = detail.replace(f"Error joining {self.url}: ", "")
            if not abandoned:
                await self._release()
            self._reset_call_state()
            message = self._scrub(f"joining {self.url} failed: {detail}")
            if abandoned:
                raise DailyJoinError(message, kind="timeout")
            raise DailyJoinError.classified(message, detail)
        self._joined = True
        self._errors_at_join = len(transport.errors)
        if self.transcription and self.transcription_status != "failed":
            self.transcription_status = "on"
        self.clock.start()
        logger.info(f"joined Daily room {self.room_id} in {time.monotonic() - t0:.2f}s")
        for key, participant in dict(transport.participants() or {}).items():
            if isinstance(participant, Mapping) and not _is_local(key, participant):
                self._add_present(str(participant.get("id") or key), participant)
        for pid in list(self.present):
            await self._capture_transcription(pid)
        return len(self.present)

    async def rejoin(self, attempt: int = 1) -> int:
        """Join the same call again, on the same client, after the connection to Daily was lost.

        For a drop that :func:`bot.rooms.daily_errors.classify_drop` calls retryable (network):
        the pipeline keeps running while the bot rejoins; use it as ``join_with_retries``'s
        ``attempt_join``. On success the room is as before the drop: participants who left during
        the outage are announced as left, newcomers as joined, everyone's audio (and
        transcription) is captured again, app messages flow again. Returns the participants present.

        Raises:
            DailyJoinError: this attempt failed (classified as a join error), or the room is
                closing or its client released (not retryable).
        """
        transport = self._transport
        if transport is None or self._closing or transport._client._client is None:
            raise DailyJoinError("the room is closing", retryable=False, kind="closing")
        client = transport._client
        transport.join_data = None
        errors_before = len(transport.errors)
        t0 = time.monotonic()
        try:
            data, error = await asyncio.wait_for(client._join(), timeout=self._join_timeout_s)
        except TimeoutError:
            raise DailyJoinError(
                f"rejoining {self.url}: Daily did not complete the join within {self._join_timeout_s:g}s",
                kind="timeout",
            ) from None
        if error:
            detail = self._scrub(str(error))
            raise DailyJoinError.classified(f"rejoining {self.url} failed: {detail}", detail)
        client._call_state = _CallState.JOINED
        client._joined_event.set()
        await transport._on_joined(data)  # Pipecat's: transcription started again, BotConnectedFrame
        self.drop = None
        self.disconnected.clear()
        self._errors_at_join = len(transport.errors)
        if self.transcription and not any(
            e.startswith(TRANSCRIPTION_START_FAILED) for e in transport.errors[errors_before:]
        ):
            self.transcription_status = "on"
        logger.info(f"rejoined Daily room {self.room_id} in {time.monotonic() - t0:.2f}s")
        await self._reconcile_presence(dict(client.participants() or {}))
        await client._flush_join_messages()
        return len(self.present)

    async def _reconcile_presence(self, participants: Mapping[str, Any]) -> None:
        """After a rejoin: who left during the outage, who came, and capture everyone's audio again."""
        now = {
            str(p.get("id") or key): p
            for key, p in participants.items()
            if isinstance(p, Mapping) and not _is_local(key, p)
        }
        for pid in [pid for pid in self.present if pid not in now]:
            await self._on_participant_left({"id": pid}, "left")
        self._audio_captured.clear()  # daily-core's renderers belonged to the call that dropped
        self._transcribed.clear()
        if self._transport is not None:
            self._transport._client._transcription_ids.clear()  # asked again below, once each
        for pid, participant in now.items():
            if pid not in self.present:
                await self._on_participant_joined(participant, audio_captured=False)
        for pid in list(self.present):
            await self._capture_transcription(pid)
            if self._input_started and self._input is not None and pid not in self._audio_captured:
                self._audio_captured.add(pid)
                await self._input.capture_participant_audio(pid, AUDIO_SOURCE, self.sample_rate)

    def _reset_call_state(self) -> None:
        """Forget what a failed or abandoned attempt saw: the next attempt starts clean."""
        self._joined = False
        self.transcription_status, self.transcription_error = "off", None
        self.present.clear()
        self._audio_captured.clear()
        self._transcribed.clear()

    def _new_transport(self) -> _RoomTransport:
        # The clean URL only: a ?t= token never reaches Daily's or Pipecat's log lines.
        transport = _RoomTransport(self, self.url, self._token, self.bot_name, self.params)
        install_nonblocking_audio_hop(transport._client)
        _forward_daily_errors(transport)
        return transport

    async def _resolve_host(self) -> None:
        """Look the room's host up before asking Daily; fail the attempt only when that is certain to fail.

        daily-python (0.30 and later) falls back to other domains when ``daily.co``'s name
        servers cannot be reached, so a failed lookup of a ``*.daily.co`` host never stops the
        attempt: it is logged and daily-core tries. For another host (a custom domain) only a
        definite "no such name" (NXDOMAIN) ends the attempt at once, as a permanent error; a
        lookup that times out or fails temporarily lets daily-core try too.
        """
        if self._dns_timeout_s is None:
            return
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        resolve = self._resolver or (lambda h, p: asyncio.get_running_loop().getaddrinfo(h, p, type=socket.SOCK_STREAM))
        try:
            await asyncio.wait_for(resolve(host, port), timeout=self._dns_timeout_s)
            return
        except socket.gaierror as exc:
            problem = f"cannot resolve {host}: {exc.strerror or exc}"
            no_such_name = exc.errno == socket.EAI_NONAME
        except TimeoutError:
            problem = f"looking up {host} took longer than {self._dns_timeout_s:g}s"
            no_such_name = False
        except OSError as exc:
            problem = f"cannot resolve {host}: {exc.strerror or type(exc).__name__}"
            no_such_name = False
        if no_such_name and not _has_daily_fallback(host):
            raise DailyJoinError(problem + " (check the room URL)", retryable=False, kind="no_room")
        logger.warning(f"{problem}; letting daily-python try (it has fallback domains for daily.co)")

    # -- the pipeline's ends --------------------------------------------------------------------

    def input(self) -> DailyRoomInput:
        """The input processor: participants' audio, transcripts, app messages, room frames."""
        if self._input is None:
            self._input = self.transport.input()
        return self._input

    def output(self) -> DailyRoomOutput:
        """The output processor: sends app messages (``Daily/OutputTransportMessage[Urgent]Frame``)."""
        return self.transport.output()

    def report_app_messages_to(self, on_outcome: OnOutcome, on_finished: Callable[[], None] | None = None) -> None:
        """Tell ``on_outcome(outcome, topic, error)`` what became of each app message sent, and
        ``on_finished()`` when the output has stopped (no more sends)."""
        self.delivery.on_outcome = on_outcome
        self.delivery.on_finished = on_finished

    async def end(self, reason: str = "completed") -> bool:
        """End the pipeline gracefully: ``RoomEndedFrame(reason)`` then ``EndWorkerFrame`` from the input.

        Returns ``False`` when the input has not started (nothing to end yet).
        """
        if self._input is None or not self._input_started:
            return False
        now = self.clock.now_ms()
        await self._input.push_frame(RoomEndedFrame(media_time_ms=now, reason=reason))
        await self._input.push_frame(stamp(EndWorkerFrame(reason=f"room {reason}"), now))
        return True

    async def wait_until_empty(self, timeout_s: float) -> None:
        """Return once nobody but the bot has been in the room for ``timeout_s`` in a row."""
        while True:
            self._presence_changed.clear()
            if self.present:
                await self._presence_changed.wait()
                continue
            try:
                await asyncio.wait_for(self._presence_changed.wait(), timeout=timeout_s)
            except TimeoutError:
                if not self.present:
                    return

    async def close(self, *, timeout_s: float = 10.0) -> None:
        """Leave the room and release the Daily client within ``timeout_s`` in all. Call after the
        pipeline has ended (and the session's end is out); idempotent."""
        self._closing = True
        await self._release(timeout_s=timeout_s)

    async def _abandon(self) -> None:
        """Drop a client whose join is still in flight without waiting for daily-core.

        ``CallClient.leave()`` and ``release()`` both block until the pending join ends (about
        19 s for a host that does not resolve), so they run on a daemon thread
        (:func:`_leave_and_release`) and the room moves on.
        """
        transport, self._transport = self._transport, None
        if transport is None:
            return
        client = transport._client
        # pipecat's cleanup then skips release(); its attribute is typed non-optional, None is its "released"
        call_client, client._client = client._client, None  # type: ignore[assignment]  # see above
        # daily-core may still report on this client, after the loop has closed even; drop it all.
        client._call_async_callback = _drop  # type: ignore[method-assign,assignment]  # deliberate patch of Pipecat's method
        if call_client is not None:
            threading.Thread(target=_leave_and_release, args=(call_client,), name="daily-abandon", daemon=True).start()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(client.cleanup()), timeout=2.0)

    async def _release(self, *, timeout_s: float = 10.0) -> None:
        """Leave (if joined) and release the client, all of it within ``timeout_s``.

        ``CallClient.release()`` can block in daily-core; Pipecat runs it with
        ``asyncio.to_thread``, on the loop's default executor, which ``asyncio.run`` waits for at
        exit however long it takes. So the release runs on a daemon thread of its own, waited for
        only until the deadline: the process can always exit on time.
        """
        transport, self._transport = self._transport, None
        if transport is None:
            return
        deadline = time.monotonic() + timeout_s
        client = transport._client
        joined, self._joined = self._joined, False
        # The client counts its owners (this room, then the pipeline's input and output). Calls
        # past zero are no-ops, so three calls always reach the real leave even if the pipeline
        # never ran or never tore down.
        try:
            if joined:
                for _ in range(3):
                    await asyncio.wait_for(client.leave(), timeout=max(0.01, deadline - time.monotonic()))
        except Exception as exc:  # leaving is best effort; the client is released below anyway
            logger.warning(self._scrub(f"leaving {self.room_id}: {type(exc).__name__ or 'timeout'}: {exc}"))
        call_client, client._client = client._client, None  # type: ignore[assignment]  # Pipecat's cleanup then skips release()
        released = asyncio.Event()
        if call_client is None:
            released.set()
        else:
            loop = asyncio.get_running_loop()

            def release() -> None:
                _release_quietly(call_client)
                with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                    loop.call_soon_threadsafe(released.set)

            threading.Thread(target=release, name="daily-release", daemon=True).start()
        try:
            for _ in range(3):
                await asyncio.wait_for(client.cleanup(), timeout=max(0.01, deadline - time.monotonic()))
        except Exception as exc:  # releasing is best effort
            logger.warning(self._scrub(f"releasing the Daily client: {type(exc).__name__}: {exc}"))
        try:
            await asyncio.wait_for(released.wait(), timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            logger.warning(f"releasing the Daily client took longer than {timeout_s:g}s; not waiting for it")
        self._input = None
        self._input_started = False

    # -- callbacks (from _RoomTransport / DailyRoomInput) ---------------------------------------

    def _scrub(self, text: str) -> str:
        return self._scrubber.scrub(text)

    def _transcription_failed(self, error: str) -> None:
        """Daily transcription is not (or no longer) running: one clear log line, once."""
        if self.transcription_status == "failed":
            return
        self.transcription_status, self.transcription_error = "failed", error or "unknown error"
        logger.warning(
            f"Daily transcription is off in room {self.room_id}: {self.transcription_error}; pacing and the "
            "facilitator get no words (speaking time, overlaps and dominance still run from audio). "
            "The token needs transcription rights: a room owner or transcription admin token."
        )

    def _add_present(self, pid: str, participant: Mapping[str, Any]) -> bool:
        if not pid or pid in self.present:
            return False
        self.present[pid] = _display_name(participant)
        self._presence_changed.set()
        return True

    async def _capture_transcription(self, pid: str) -> None:
        if not self.transcription or pid in self._transcribed or self._transport is None:
            return
        self._transcribed.add(pid)
        await self._transport.capture_participant_transcription(pid)

    async def _on_input_starting(self, input: DailyRoomInput) -> None:
        """Announce everyone present and queue their audio before Pipecat starts streaming."""
        self._input = input
        self._input_started = True  # from here on, joins and leaves push their own frames
        now = self.clock.now_ms()
        for pid, name in list(self.present.items()):
            if pid not in self._audio_captured:
                self._audio_captured.add(pid)
                await input.capture_participant_audio(pid, AUDIO_SOURCE, self.sample_rate)
            await input.push_frame(ParticipantJoinedFrame(participant_id=pid, display_name=name, media_time_ms=now))

    def _on_input_stopped(self) -> None:
        self._input_started = False

    async def _on_participant_joined(self, participant: Mapping[str, Any], *, audio_captured: bool) -> None:
        pid = str(participant.get("id") or "")
        if _is_local(pid, participant) or not self._add_present(pid, participant):
            return
        if audio_captured:
            self._audio_captured.add(pid)
        await self._capture_transcription(pid)
        if self._input_started and self._input is not None:
            if pid not in self._audio_captured:
                self._audio_captured.add(pid)
                await self._input.capture_participant_audio(pid, AUDIO_SOURCE, self.sample_rate)
            await self._input.push_frame(
                ParticipantJoinedFrame(
                    participant_id=pid, display_name=self.present.get(pid), media_time_ms=self.clock.now_ms()
                )
            )

    async def _on_participant_left(self, participant: Mapping[str, Any], reason: Any) -> None:
        pid = str(participant.get("id") or "")
        if pid not in self.present:
            return
        del self.present[pid]
        self._audio_captured.discard(pid)
        self._transcribed.discard(pid)
        self._presence_changed.set()
        if self._input_started and self._input is not None:
            await self._input.push_frame(
                ParticipantLeftFrame(participant_id=pid, media_time_ms=self.clock.now_ms(), reason=_left_reason(reason))
            )

    def _on_call_state(self, state: str) -> None:
        if state == "left" and self._joined and not self._closing:
            errors = self._transport.errors[self._errors_at_join :] if self._transport is not None else []
            self.drop = classify_drop(errors)
            logger.warning(f"the call in room {self.room_id} ended underneath the bot: {self.drop.describe()}")
            self.disconnected.set()
