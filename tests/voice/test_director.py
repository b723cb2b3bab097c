"""VoiceDirector: the voice's manners on media time, as plain logic (no Pipecat, no TTS server)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.generated import (
    FacilitatorMessage,
    FacilitatorSpeechStarted,
    FacilitatorSpeechStopped,
    RoomInterruptExecuted,
    RoomInterruptRequest,
    RoomTopicShiftSuggested,
    RoomWrapupPrompt,
)
from bot.policy import default_policy
from bot.policy.model import ConversationPolicy
from bot.policy.snapshot import LoadedPolicy, snapshot_of
from bot.voice.director import Audio, Cut, VoiceDirector, VoiceParams

RATE = 24_000
ONE_SECOND = bytes(2 * RATE)


def policy(**facilitation: Any) -> LoadedPolicy:
    doc = ConversationPolicy.model_validate({"facilitation": facilitation})
    return LoadedPolicy.of(snapshot_of(doc, ["test"]))


def director(loaded: LoadedPolicy | None = None, **params: Any) -> VoiceDirector:
    loaded = loaded or default_policy()
    params.setdefault("min_gap_ms", 0)
    params.setdefault("max_share", 1.0)
    d = VoiceDirector(loaded, VoiceParams.from_policy(loaded, **params))
    for pid, name in (("p-alice", "Alice"), ("p-bob", "Bob"), ("p-carol", "Carol")):
        d.joined(0, pid, name)
    return d


def talk(d: VoiceDirector, pid: str, start: int, end: int) -> None:
    d.speaking_started(start, pid, start + 150)
    d.speaking_stopped(end, pid, end - start)


def synthesize(d: VoiceDirector, seconds: float = 1.0) -> None:
    u = d.next_synthesis()
    assert u is not None
    d.tts_audio(bytes(int(2 * RATE * seconds)), RATE)
    d.tts_done()


def run(d: VoiceDirector, start: int, end: int) -> list[Any]:
    out: list[Any] = []
    for t in range(start, end + 1, 100):
        out += d.advance(t, t + 100)
    return out


def of(out: list[Any], cls: type) -> list[Any]:
    return [x for x in out if isinstance(x, cls)]


def wrapup() -> RoomWrapupPrompt:
    return RoomWrapupPrompt(remaining_ms=60_000, message="Wrap up")


def test_speaks_only_after_the_room_was_silent_for_the_gap() -> None:
    d = director(gap_ms=700)
    talk(d, "p-alice", 1_000, 10_000)
    d.event(10_000, wrapup())
    synthesize(d)
    assert run(d, 10_000, 10_600) == []
    out = run(d, 10_700, 10_700)
    started = of(out, FacilitatorSpeechStarted)
    assert len(started) == 1 and started[0].media_time_ms == 10_700 and started[0].kind == "wrapup"
    assert started[0].gap_ms == 700 and started[0].text_length > 0
    audio = of(out, Audio)
    assert audio and audio[0].media_time_ms == 10_700


def test_waits_while_anyone_speaks_and_counts_the_gap_from_the_last_stop() -> None:
    d = director(gap_ms=700)
    d.speaking_started(9_000, "p-alice", 9_150)
    d.event(10_000, wrapup())
    synthesize(d)
    assert of(run(d, 10_000, 14_000), FacilitatorSpeechStarted) == []
    d.speaking_stopped(14_000, "p-alice", 5_000)
    d.speaking_started(14_300, "p-bob", 14_450)  # a second speaker takes over in the pause
    d.speaking_stopped(15_000, "p-bob", 700)
    assert of(run(d, 14_500, 15_600), FacilitatorSpeechStarted) == []
    started = of(run(d, 15_700, 15_700), FacilitatorSpeechStarted)
    assert [s.media_time_ms for s in started] == [15_700]


def test_a_provisional_onset_holds_the_start_until_it_resolves() -> None:
    d = director(gap_ms=700)
    talk(d, "p-alice", 1_000, 10_000)
    d.event(10_000, wrapup())
    synthesize(d)
    d.speech_pending(10_650, "p-bob", 10_690)  # a sound that may be speech, just before the gap
    assert of(run(d, 10_700, 10_900), FacilitatorSpeechStarted) == []
    assert of(run(d, 11_000, 11_000), FacilitatorSpeechStarted)  # not confirmed in 300 ms: not speech


def test_barge_in_stops_the_bot_where_the_room_learned_of_it() -> None:
    d = director(gap_ms=700)
    talk(d, "p-alice", 1_000, 10_000)
    d.event(10_000, wrapup())
    synthesize(d, seconds=3.0)
    run(d, 10_000, 11_000)
    d.speech_pending(11_020, "p-bob", 11_052)
    out = d.drain()
    assert of(out, Cut) == [Cut(11_052)]
    stopped = of(out, FacilitatorSpeechStopped)
    assert len(stopped) == 1 and stopped[0].reason == "barge_in" and stopped[0].media_time_ms == 11_052
    assert stopped[0].duration_ms == 352 and stopped[0].bot_talk_ms == 352
    assert d.playing is None and of(run(d, 11_100, 12_000), Audio) == []
    assert d.stats["barge_ins"] == 1


def test_a_completed_utterance_reports_its_length_and_the_bots_share() -> None:
    d = director(gap_ms=700)
    talk(d, "p-alice", 1_000, 10_000)
    d.event(10_000, wrapup())
    synthesize(d, seconds=1.0)
    out = run(d, 10_000, 12_000)
    stopped = of(out, FacilitatorSpeechStopped)
    assert len(stopped) == 1 and stopped[0].reason == "completed"
    assert stopped[0].duration_ms == 1_000 and stopped[0].bot_share == pytest.approx(1_000 / 10_000, abs=1e-3)
    assert sum(len(a.pcm) for a in of(out, Audio)) == len(ONE_SECOND)


def test_a_tts_error_is_counted_and_the_next_utterance_still_plays() -> None:
    d = director(gap_ms=700)
    talk(d, "p-alice", 1_000, 10_000)
    d.event(10_000, wrapup())
    assert d.next_synthesis() is not None
    d.tts_failed("HTTP 500")
    assert d.stats["tts_errors"] == 1 and d.queue == []
    d.event(
        10_500, RoomTopicShiftSuggested(current_item="A", next_item="B", reason="time_box", elapsed_ms=1, timebox_ms=1)
    )
    synthesize(d)
    assert of(run(d, 10_500, 11_000), FacilitatorSpeechStarted)


def test_policy_off_says_nothing_and_reports_interrupts_as_skipped_by_policy() -> None:
    d = director(policy(voice="off"))
    d.event(10_000, wrapup())
    d.event(10_000, RoomInterruptRequest(target_participant_id="p-alice", reason="monologue", monologue_ms=20_000))
    assert d.next_synthesis() is None
    executed = of(d.drain(), RoomInterruptExecuted)
    assert [(e.outcome, e.skip_reason) for e in executed] == [("skipped", "policy")]


def test_prompts_only_policy_speaks_prompts_but_not_interrupts() -> None:
    d = director(policy(voice="prompts"))
    d.event(10_000, RoomInterruptRequest(target_participant_id="p-alice", reason="policy", monologue_ms=90_000))
    assert d.next_synthesis() is None
    assert [e.skip_reason for e in of(d.drain(), RoomInterruptExecuted)] == ["policy"]
    d.event(10_000, wrapup())
    assert d.next_synthesis() is not None


def test_min_gap_between_utterances_and_the_share_bound() -> None:
    d = director(gap_ms=700, min_gap_ms=15_000)
    talk(d, "p-alice", 0, 20_000)
    d.event(20_000, wrapup())
    synthesize(d)
    run(d, 20_000, 22_000)  # spoken 20.7-21.7 s
    d.event(
        22_000, RoomTopicShiftSuggested(current_item="A", next_item="B", reason="time_box", elapsed_ms=1, timebox_ms=1)
    )
    synthesize(d)
    assert of(run(d, 22_000, 36_600), FacilitatorSpeechStarted) == []
    assert [s.media_time_ms for s in of(run(d, 36_700, 36_800), FacilitatorSpeechStarted)] == [36_700]

    tight = director(gap_ms=700, max_share=0.01)
    talk(tight, "p-alice", 0, 20_000)
    tight.event(20_000, wrapup())
    synthesize(tight, seconds=2.0)
    assert of(run(tight, 20_000, 25_000), FacilitatorSpeechStarted) == []
    assert tight.stats["skipped.rate_limited"] == 1


def test_an_interrupt_is_spoken_in_the_targets_pause_and_reported_executed() -> None:
    d = director(gap_ms=700, interrupt_gap_ms=500)
    d.speaking_started(1_000, "p-alice", 1_150)
    d.event(16_000, RoomInterruptRequest(target_participant_id="p-alice", reason="monologue", monologue_ms=15_000))
    u = d.next_synthesis()
    assert u is not None and "Alice" in u.text and ("Bob" in u.text or "Carol" in u.text)
    d.tts_audio(ONE_SECOND, RATE)
    d.tts_done()
    assert of(run(d, 16_000, 18_000), FacilitatorSpeechStarted) == []  # never over the speaker
    d.speaking_stopped(18_000, "p-alice", 17_000)
    out = run(d, 18_100, 20_000)
    assert [s.media_time_ms for s in of(out, FacilitatorSpeechStarted)] == [18_500]
    executed = of(out, RoomInterruptExecuted)
    assert len(executed) == 1 and executed[0].outcome == "executed" and executed[0].method == "speech"
    assert executed[0].latency_ms == 2_500 and executed[0].request_reason == "monologue"


def test_an_interrupt_is_dropped_when_the_target_yields_to_someone_else() -> None:
    d = director()
    d.speaking_started(1_000, "p-alice", 1_150)
    d.event(16_000, RoomInterruptRequest(target_participant_id="p-alice", reason="monologue", monologue_ms=15_000))
    synthesize(d)
    d.speaking_started(17_000, "p-bob", 17_150)  # a backchannel while Alice still talks: not a yield
    d.speaking_stopped(17_400, "p-bob", 400)
    assert d.queue
    d.speaking_stopped(18_000, "p-alice", 17_000)
    d.speaking_started(18_200, "p-carol", 18_350)
    executed = of(d.drain(), RoomInterruptExecuted)
    assert [(e.outcome, e.skip_reason) for e in executed] == [("skipped", "stopped_speaking")]


def test_a_blocked_text_is_never_synthesized() -> None:
    doc = ConversationPolicy.model_validate(
        {"content": {"rules": [{"id": "no-wrap", "phrases": ["wrapping up"], "action": "block", "appliesTo": ["bot"]}]}}
    )
    d = director(LoadedPolicy.of(snapshot_of(doc, ["test"])))
    d.event(10_000, wrapup())
    assert d.next_synthesis() is None and d.stats["blocked"] == 1


def test_the_llm_phrasing_replaces_the_template_when_it_comes_in_time() -> None:
    d = director(llm_phrasing=True, llm_wait_ms=5_000)
    d.event(10_000, wrapup())
    assert d.next_synthesis() is None  # waiting for the LLM
    d.event(
        11_000, FacilitatorMessage(text="Two minutes left, let's agree on owners.", audience="room", reason="wrapup")
    )
    u = d.next_synthesis()
    assert u is not None and u.text == "Two minutes left, let's agree on owners."
    d2 = director(llm_phrasing=True, llm_wait_ms=5_000)
    d2.event(10_000, wrapup())
    d2.advance(15_000, 15_100)
    u2 = d2.next_synthesis()
    assert u2 is not None and "wrapping up" in u2.text  # no answer in time: the template


def test_a_share_nudge_invites_the_quietest_participant_aloud() -> None:
    d = director()
    talk(d, "p-alice", 0, 10_000)
    talk(d, "p-bob", 10_000, 12_000)
    d.event(
        12_000,
        FacilitatorMessage(
            text="You have spoken a lot", audience="participant", participant_id="p-alice", reason="nudge"
        ),
    )
    u = d.next_synthesis()
    assert u is not None and u.kind == "nudge" and u.target == "p-carol" and u.text.startswith("Carol")


def test_the_room_ending_stops_the_bot_and_drops_the_queue() -> None:
    d = director()
    talk(d, "p-alice", 0, 10_000)
    d.event(10_000, wrapup())
    synthesize(d, seconds=3.0)
    run(d, 10_000, 11_000)
    out = d.finish(11_050)
    assert of(out, Cut) == [Cut(11_050)]
    assert [s.reason for s in of(out, FacilitatorSpeechStopped)] == ["ended"]
