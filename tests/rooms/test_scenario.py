"""Scenario files: what loads, what is rejected, and how each rejection is worded."""

from __future__ import annotations

import json
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(ROOT))

from bot.core.errors import ConfigError, PolicyError, PrismError, ScenarioError, SpecError  # noqa: E402
from bot.rooms.scenario import (  # noqa: E402
    AppMessageEvent,
    ChatEvent,
    JoinEvent,
    NoiseEvent,
    SpeechEvent,
    load_clip,
    load_scenario,
    noise_samples,
)

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def write_wav(path: Path, samples: np.ndarray, rate: int, *, width: int = 2) -> Path:
    """Write int16 samples (shape (n,) or (n, channels)) as a PCM WAV."""
    samples = np.asarray(samples)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes(samples.astype("<i2").tobytes())
        else:
            w.writeframes(bytes(width * samples.size))
    return path


def burst(seconds: float, rate: int = 16000, freq: float = 300.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(amp * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def base_doc() -> dict[str, Any]:
    """A valid two-person room; bad cases mutate a copy of it."""
    return {
        "name": "tiny",
        "sampleRate": 16000,
        "participants": [{"id": "p-alice", "name": "Alice"}, {"id": "p-bob", "name": "Bob"}],
        "agenda": [{"title": "Updates", "timeboxMs": 60000}],
        "events": [
            {"atMs": 0, "type": "join", "participant": "p-alice"},
            {"atMs": 0, "type": "join", "participant": "p-bob"},
            {"atMs": 200, "type": "speech", "participant": "p-alice", "audio": "clips/a.wav", "text": "Hello."},
            {"atMs": 1500, "type": "chat", "participant": "p-bob", "text": "link?"},
            {"atMs": 1600, "type": "noise", "participant": "p-bob", "durationMs": 300, "kind": "white"},
            {"atMs": 2000, "type": "app_message", "participant": "p-bob", "message": {"anything": [1, 2]}},
            {"atMs": 3000, "type": "leave", "participant": "p-bob"},
        ],
    }


@pytest.fixture
def room_dir(tmp_path: Path) -> Path:
    (tmp_path / "clips").mkdir()
    write_wav(tmp_path / "clips" / "a.wav", burst(1.0), 16000)
    return tmp_path


def write_doc(directory: Path, doc: Any, name: str = "scenario.json") -> Path:
    path = directory / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    return path


# --------------------------------------------------------------------------------------------
# valid scenarios
# --------------------------------------------------------------------------------------------


def test_valid_scenario_loads_into_typed_events(room_dir: Path) -> None:
    scenario = load_scenario(write_doc(room_dir, base_doc()))

    assert scenario.name == "tiny"
    assert scenario.sample_rate == 16000
    assert [p.name for p in scenario.participants] == ["Alice", "Bob"]
    assert scenario.agenda[0].title == "Updates" and scenario.agenda[0].timebox_ms == 60000
    assert [type(e) for e in scenario.events][:3] == [JoinEvent, JoinEvent, SpeechEvent]
    speech = scenario.speech_by_participant()
    assert list(speech) == ["p-alice", "p-bob"] and speech["p-bob"] == []
    (utterance,) = speech["p-alice"]
    assert utterance.samples.dtype == np.int16 and len(utterance.samples) == 16000
    assert utterance.end_ms == 1200 and utterance.duration_ms == 1000
    assert utterance.audio_path == room_dir / "clips" / "a.wav"
    app = scenario.events_of(AppMessageEvent)[0]
    assert app.is_raw and app.message == {"anything": [1, 2]}


def test_duration_defaults_to_last_event_end_plus_two_seconds(room_dir: Path) -> None:
    doc = base_doc()
    doc["events"] = doc["events"][:3]  # joins + speech ending at 1200 ms
    scenario = load_scenario(write_doc(room_dir, doc))
    assert scenario.duration_ms == 3200
    assert scenario.media_duration_ms == 3200


def test_media_duration_rounds_up_to_the_20ms_step(room_dir: Path) -> None:
    doc = base_doc()
    doc["durationMs"] = 5005
    assert load_scenario(write_doc(room_dir, doc)).media_duration_ms == 5020


def test_events_are_sorted_stably_by_time(room_dir: Path) -> None:
    doc = base_doc()
    doc["events"] = [
        {"atMs": 900, "type": "chat", "participant": "p-bob", "text": "second"},
        {"atMs": 0, "type": "join", "participant": "p-bob"},
        {"atMs": 900, "type": "chat", "participant": "p-bob", "text": "third"},
        {"atMs": 100, "type": "chat", "participant": "p-bob", "text": "first"},
    ]
    scenario = load_scenario(write_doc(room_dir, doc))
    assert [e.index for e in scenario.events] == [1, 3, 0, 2]
    assert [e.text for e in scenario.events_of(ChatEvent)] == ["first", "second", "third"]


def test_participants_are_inferred_from_joins_when_not_listed(room_dir: Path) -> None:
    doc = base_doc()
    del doc["participants"]
    scenario = load_scenario(write_doc(room_dir, doc))
    assert scenario.participant_ids == ("p-alice", "p-bob")
    assert scenario.display_name("p-bob") == "p-bob"


def test_yaml_scenarios_load(room_dir: Path) -> None:
    yaml = pytest.importorskip("yaml")
    path = room_dir / "scenario.yaml"
    path.write_text(yaml.safe_dump(base_doc()))
    assert len(load_scenario(path).events) == 7


def test_stereo_44k_clip_becomes_mono_at_the_room_rate(tmp_path: Path) -> None:
    left = burst(0.5, rate=44100)
    stereo = np.stack([left, left], axis=1)
    samples = load_clip(write_wav(tmp_path / "s.wav", stereo, 44100), 16000)
    assert samples.ndim == 1 and samples.dtype == np.int16
    assert abs(len(samples) - 8000) <= 1
    # level survives the conversion (0.5 full scale sine → RMS ≈ 0.354)
    rms = np.sqrt(np.mean((samples[500:-500].astype(np.float64) / 32768) ** 2))
    assert rms == pytest.approx(0.354, abs=0.01)


def test_clips_are_decoded_once_per_path(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "c.wav", burst(0.2), 16000)
    assert load_clip(path, 16000) is load_clip(path, 16000)
    assert not load_clip(path, 16000).flags.writeable


def test_8khz_room_converts_clips_to_8khz(room_dir: Path) -> None:
    doc = base_doc()
    doc["sampleRate"] = 8000
    scenario = load_scenario(write_doc(room_dir, doc))
    assert scenario.samples_per_step == 160
    assert abs(len(scenario.speech_by_participant()["p-alice"][0].samples) - 8000) <= 1


def test_noise_is_deterministic_and_peaks_at_its_level(room_dir: Path) -> None:
    path = write_doc(room_dir, base_doc())
    first = load_scenario(path).events_of(NoiseEvent)[0]
    again = load_scenario(path).events_of(NoiseEvent)[0]
    assert np.array_equal(first.samples, again.samples)
    assert len(first.samples) == 300 * 16
    for kind in ("white", "pink", "tone"):
        x = noise_samples(kind, 16000, 16000, level=0.5, freq_hz=440, seed=3)
        assert np.max(np.abs(x)) == pytest.approx(0.5 * 32767, rel=0.02), kind


def test_tone_noise_has_its_frequency() -> None:
    x = noise_samples("tone", 16000, 16000, level=0.3, freq_hz=1000)
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64)))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins over one second


def test_app_message_raw_form_may_be_null(room_dir: Path) -> None:
    doc = base_doc()
    doc["events"][5] = {"atMs": 2000, "type": "app_message", "participant": "p-bob", "message": None}
    app = load_scenario(write_doc(room_dir, doc)).events_of(AppMessageEvent)[0]
    assert app.is_raw and app.message is None


def test_rejoin_after_leave_is_allowed(room_dir: Path) -> None:
    doc = base_doc()
    doc["events"].append({"atMs": 4000, "type": "join", "participant": "p-bob"})
    doc["events"].append({"atMs": 4100, "type": "chat", "participant": "p-bob", "text": "back"})
    scenario = load_scenario(write_doc(room_dir, doc))
    assert scenario.presence()["p-bob"] == [(0, 3000), (4000, None)]


def test_overlapping_speech_of_different_participants_is_fine(room_dir: Path) -> None:
    doc = base_doc()
    doc["events"].append(
        {
            "atMs": 500,
            "type": "speech",
            "participant": "p-bob",
            "audio": "clips/a.wav",
            "text": "mm-hmm",
            "label": "backchannel",
        }
    )
    scenario = load_scenario(write_doc(room_dir, doc))
    assert scenario.speech_by_participant()["p-bob"][0].label == "backchannel"


# --------------------------------------------------------------------------------------------
# bad scenarios: one row per case; each names file, event index and field
# --------------------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any], Path], Any]


def _set(index: int, **fields: Any) -> Mutation:
    def mutate(doc: dict[str, Any], _: Path) -> None:
        doc["events"][index].update(fields)

    return mutate


def _drop(index: int, key: str) -> Mutation:
    def mutate(doc: dict[str, Any], _: Path) -> None:
        del doc["events"][index][key]

    return mutate


def _append(*events: dict[str, Any]) -> Mutation:
    def mutate(doc: dict[str, Any], _: Path) -> None:
        doc["events"].extend(events)

    return mutate


def _with_carol(*events: dict[str, Any]) -> Mutation:
    """Declare a third participant, then add her events."""

    def mutate(doc: dict[str, Any], _: Path) -> None:
        doc["participants"].append({"id": "p-carol", "name": "Carol"})
        doc["events"].extend(events)

    return mutate


def _top(**fields: Any) -> Mutation:
    def mutate(doc: dict[str, Any], _: Path) -> None:
        doc.update(fields)

    return mutate


def _not_a_wav(doc: dict[str, Any], directory: Path) -> None:
    (directory / "clips" / "notes.wav").write_text("these are not samples")
    doc["events"][2]["audio"] = "clips/notes.wav"


def _empty_clip(doc: dict[str, Any], directory: Path) -> None:
    write_wav(directory / "clips" / "empty.wav", np.zeros(0, dtype=np.int16), 16000)
    doc["events"][2]["audio"] = "clips/empty.wav"


# (id, mutation, event index or None, field or None, words the message must contain)
BAD_CASES: list[tuple[str, Mutation, int | None, str | None, str]] = [
    ("unknown-event-type", _set(3, type="shout"), 3, "type", "must be one of"),
    ("missing-type", _drop(3, "type"), 3, "type", "is required"),
    ("missing-atMs", _drop(3, "atMs"), 3, "atMs", "is required"),
    ("missing-participant", _drop(3, "participant"), 3, "participant", "is required"),
    ("missing-speech-audio", _drop(2, "audio"), 2, "audio", "is required"),
    ("missing-chat-text", _drop(3, "text"), 3, "text", "is required"),
    ("unknown-field-typo", _set(3, partcipant="p-bob"), 3, "partcipant", "not a known field"),
    ("unknown-participant", _set(3, participant="p-zed"), 3, "participant", '"p-zed" is not in'),
    ("negative-time", _set(3, atMs=-5), 3, "atMs", "must be ≥ 0"),
    ("fractional-time", _set(3, atMs=1500.5), 3, "atMs", "must be an integer"),
    ("string-time", _set(3, atMs="1500"), 3, "atMs", "must be an integer"),
    ("boolean-time", _set(3, atMs=True), 3, "atMs", "must be an integer"),
    ("missing-clip", _set(2, audio="clips/nope.wav"), 2, "audio", "file not found"),
    ("clip-is-not-audio", _not_a_wav, 2, "audio", "is not an audio file"),
    ("clip-is-empty", _empty_clip, 2, "audio", "no audio samples"),
    ("unsupported-sample-rate", _top(sampleRate=44100), None, "sampleRate", "must be 8000 or 16000"),
    (
        "same-participant-overlapping-speech",
        _append({"atMs": 900, "type": "speech", "participant": "p-alice", "audio": "clips/a.wav", "text": "again"}),
        7,
        "atMs",
        "still speaking event 2",
    ),
    (
        "event-before-join",
        _with_carol(
            {"atMs": 5000, "type": "join", "participant": "p-carol"},
            {"atMs": 4000, "type": "chat", "participant": "p-carol", "text": "early"},
        ),
        8,
        "atMs",
        "not in the room yet",
    ),
    (
        "participant-never-joins",
        _with_carol({"atMs": 4000, "type": "chat", "participant": "p-carol", "text": "ghost"}),
        7,
        "atMs",
        "never joins",
    ),
    (
        "event-after-leave",
        _append({"atMs": 3500, "type": "chat", "participant": "p-bob", "text": "late"}),
        7,
        "atMs",
        "left at 3000 ms",
    ),
    (
        "speech-runs-past-leave",
        _append({"atMs": 2500, "type": "speech", "participant": "p-bob", "audio": "clips/a.wav", "text": "bye"}),
        7,
        "audio",
        "past p-bob's leave",
    ),
    ("noise-past-leave", _set(4, durationMs=5000), 4, "durationMs", "past p-bob's leave"),
    ("join-twice", _append({"atMs": 100, "type": "join", "participant": "p-alice"}), 7, "type", "already in the room"),
    (
        "leave-while-away",
        _append({"atMs": 3100, "type": "leave", "participant": "p-bob"}),
        7,
        "type",
        "not in the room",
    ),
    ("bad-noise-kind", _set(4, kind="brown"), 4, "kind", "must be one of white, pink, tone"),
    ("missing-noise-kind", _drop(4, "kind"), 4, "kind", "is required"),
    ("noise-level-above-1", _set(4, level=1.5), 4, "level", "must be in [0, 1]"),
    ("noise-zero-duration", _set(4, durationMs=0), 4, "durationMs", "must be ≥ 1"),
    ("tone-above-nyquist", _set(4, kind="tone", freqHz=9000), 4, "freqHz", "must be in (0, 8000)"),
    ("app-message-neither", _drop(5, "message"), 5, "message", 'or "envelope" is required'),
    (
        "app-message-both",
        _set(5, envelope={"topic": "room.vote.cast", "payload": {}}),
        5,
        "envelope",
        'cannot be combined with "message"',
    ),
    (
        "envelope-without-topic",
        lambda doc, _: doc["events"].__setitem__(
            5, {"atMs": 2000, "type": "app_message", "participant": "p-bob", "envelope": {"payload": {}}}
        ),
        5,
        "envelope.topic",
        "is required",
    ),
    ("event-not-an-object", _append("join p-bob"), 7, None, "must be an object"),
    ("events-not-a-list", _top(events={"atMs": 0}), None, "events", "must be a list"),
    ("events-missing", lambda doc, _: doc.pop("events"), None, "events", "is required"),
    (
        "duplicate-participant",
        _top(participants=[{"id": "p-a"}, {"id": "p-a"}]),
        None,
        "participants[1].id",
        "listed twice",
    ),
    ("agenda-timebox-zero", _top(agenda=[{"title": "x", "timeboxMs": 0}]), None, "agenda[0].timeboxMs", "must be ≥ 1"),
    ("duration-shorter-than-events", _top(durationMs=2500), None, "durationMs", "event 6 (leave) ends at 3000 ms"),
    ("unknown-top-level-key", _top(partcipants=[]), None, "partcipants", "not a known field"),
]


@pytest.mark.parametrize(
    ("mutate", "index", "field", "words"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_bad_scenario_is_rejected_with_file_event_and_field(
    room_dir: Path, mutate: Mutation, index: int | None, field: str | None, words: str
) -> None:
    doc = base_doc()
    mutate(doc, room_dir)
    path = write_doc(room_dir, doc)

    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)

    err = caught.value
    text = str(err)
    assert err.exit_code == 2 and "\n" not in text
    assert err.file == str(path) and text.startswith(str(path))
    assert err.event_index == index and err.field == field
    if index is not None:
        assert text.startswith(f"{path} event {index}: ")
    else:
        assert text.startswith(f"{path}: ")
    if field is not None:
        assert f'"{field}"' in text
    assert words in text


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("scenario.json", '{"events": [\n  {"atMs": 0,,}\n]}', "invalid JSON at line 2, column 14"),
        ("scenario.json", '{"events": [], "durationMs": NaN}', "invalid JSON"),
        ("scenario.json", "[1, 2]", "must contain a JSON object at the top level"),
        ("scenario.json", b"\xff\xfe{}", "not UTF-8"),
        ("scenario.yaml", "events:\n  - atMs: 0\n   type: join\n", "invalid YAML at line 3"),
    ],
    ids=["bad-json", "json-nan", "top-level-list", "not-utf8", "bad-yaml"],
)
def test_unparseable_file_names_file_and_position(tmp_path: Path, name: str, content: str | bytes, words: str) -> None:
    if name.endswith(".yaml"):
        pytest.importorskip("yaml")
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert words in str(caught.value)
    assert caught.value.event_index is None


def test_missing_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.json: file not found$"):
        load_scenario(tmp_path / "nope.json")


def test_directory_instead_of_scenario_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)


# --------------------------------------------------------------------------------------------
# the errors module
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            ScenarioError("scenario.json", "must be ≥ 0", event_index=12, field="atMs"),
            'scenario.json event 12: "atMs" must be ≥ 0',
        ),
        (ScenarioError("scenario.json", "file not found"), "scenario.json: file not found"),
        (
            SpecError("spec/topics/x.json", "/forwarding/sampleRate", "must be a number"),
            "spec/topics/x.json at /forwarding/sampleRate: must be a number",
        ),
        (PolicyError("policy.json", "maxTurnMs", "must be > 0"), 'policy.json: "maxTurnMs" must be > 0'),
        (ConfigError("--speed must be ≥ 0,\n got -1"), "--speed must be ≥ 0, got -1"),
    ],
    ids=["scenario-event", "scenario-file", "spec", "policy", "config-one-line"],
)
def test_user_errors_render_as_one_line_and_exit_2(error: PrismError, text: str) -> None:
    assert isinstance(error, PrismError)
    assert str(error) == text
    assert error.exit_code == 2
