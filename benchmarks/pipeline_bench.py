"""Whole-pipeline cost on the 8-participant room, beside the naive way and the inference floor.

    python benchmarks/pipeline_bench.py [--room bot/scenarios/rooms/eight.json] [--repeat 5]

Measured in the same run, medians of ``--repeat`` repetitions (shared machines are noisy; read the
ratios, not the absolute numbers):

- **ours**: the real room pipeline (``bot.pipelines.room``) fed by the SimulatedRoom at
  ``--speed 0``, envelopes published to a bus whose stdout goes to /dev/null. Each 20 ms step's
  audio is one ``RoomAudioFrame`` (the room's default), its windows scored in one batched run.
- **ours, Pipecat's idle observer**: the same with Pipecat's idle timeout (an observer) in place
  of the session's own idle watch (which ``ours`` runs, as a session does): what issue 14 removed.
- **ours, per-participant frames**: the same with one ``UserAudioRawFrame`` per participant per
  step (``audio_frames="participant"``, what a connector without the combined frame pushes), so
  each chunk pays the per-frame costs and each window its own model run.
- **naive**: the Pipecat way with per-participant state but no gating — one
  ``SileroVADAnalyzer`` per participant fed every 20 ms chunk through ``analyze_audio`` (what a
  ``VADProcessor`` does, once per participant), in the same transport and worker, fed one
  ``UserAudioRawFrame`` per participant per step.
- **floor**: bare Silero inference (``SileroOnnxModel``) on every 512-sample window of every
  participant's stream, and nothing else: the inference floor on the same audio (the issue's
  reference point). Also shown: the **speech-only floor**, inference on just the windows that
  hold speech — what a perfect gate would spend; no transport, framework or analytics at all.
- **pass-through**: the same transport and worker with the same number of processors that only
  forward frames: the framework's own per-frame cost, to set our chain's cost against.

Each row shows wall time and the process's CPU time (all threads): on a shared machine the wall
time includes waiting for a core, the CPU time does not.

Targets (issue 3): ours faster than naive, ours ≤ 1.5× the floor, ≥ 20× real time for 8 people.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from loguru import logger  # noqa: E402

logger.remove()
logger.add(sys.stderr, level="ERROR")

from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer  # noqa: E402
from pipecat.frames.frames import Frame, UserAudioRawFrame  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from bot.audio.silero_stream import model_path  # noqa: E402
from bot.events import EventRuntime, SessionContext, create_runtime  # noqa: E402
from bot.pipelines.room import IDLE_FRAMES, build_room_pipeline  # noqa: E402
from bot.rooms.scenario import Scenario, load_scenario  # noqa: E402
from bot.rooms.simulated import AudioFrames, SimulatedRoom  # noqa: E402
from bot.scenarios.tools.truth import load_truth  # noqa: E402
from bot.session.idle import IdleWatch  # noqa: E402

WINDOW = 512


class PassThrough(FrameProcessor):
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class NaivePerParticipantVAD(FrameProcessor):
    """A VADProcessor-style analyzer per participant: every chunk analyzed, no gating."""

    def __init__(self) -> None:
        super().__init__()
        self._analyzers: dict[str, SileroVADAnalyzer] = {}
        self.chunks = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, UserAudioRawFrame):
            vad = self._analyzers.get(frame.user_id)
            if vad is None:
                vad = SileroVADAnalyzer()
                vad.set_sample_rate(frame.sample_rate)
                self._analyzers[frame.user_id] = vad
            await vad.analyze_audio(frame.audio)
            self.chunks += 1
            return
        await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        await super().cleanup()  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated
        for vad in self._analyzers.values():
            await vad.cleanup()


async def play(
    scenario: Scenario,
    middle: list[FrameProcessor] | None,
    *,
    runtime: EventRuntime | None = None,
    audio_frames: AudioFrames = "room",
    pipecat_idle: bool = False,
) -> tuple[float, float, int]:
    """Wall and CPU seconds to play the room through ``middle`` (None = the real room pipeline,
    with the session's idle watch, or Pipecat's idle observer when ``pipecat_idle``)."""
    room = SimulatedRoom(scenario, speed=0, audio_frames=audio_frames)

    async def never() -> None:
        return None

    watch = IdleWatch(3600.0, on_idle=never)  # far beyond the room: it only watches
    if middle is None:
        if runtime is None:
            raise ValueError("the real room pipeline (middle=None) needs a runtime")
        on_activity = None if pipecat_idle else watch.touch
        pipeline = build_room_pipeline(room, runtime, agenda=scenario.agenda, on_activity=on_activity)
    else:
        pipeline = Pipeline([room.input(), *middle, room.output()])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=scenario.sample_rate),
        enable_rtvi=False,
        enable_turn_tracking=False,
        idle_timeout_secs=3600.0 if pipecat_idle else None,
        idle_timeout_frames=IDLE_FRAMES,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    started, cpu = time.perf_counter(), time.process_time()
    watching = asyncio.create_task(watch.run()) if middle is None and not pipecat_idle else None
    await runner.run()
    if watching is not None:
        watching.cancel()
    # minus source, input, output, sink
    return time.perf_counter() - started, time.process_time() - cpu, len(pipeline.processors) - 4


def floor_seconds(scenario_path: Path, *, speech_only: bool) -> tuple[float, float, int]:
    """Bare inference per participant (fresh model each) on every window of their stream, or
    only on the windows that contain speech."""
    scenario = load_scenario(scenario_path)
    truth = load_truth(scenario_path)
    rate = scenario.sample_rate
    total_ms = scenario.media_duration_ms
    windows = []
    for pid, track in _tracks(scenario).items():
        voiced = np.zeros(track.size, dtype=bool)
        for start, end in truth["participants"][pid]["intervals"]:
            voiced[start * rate // 1000 : min(track.size, end * rate // 1000)] = True
        for s in range(0, track.size - WINDOW + 1, WINDOW):
            if not speech_only or voiced[s : s + WINDOW].any():
                windows.append((pid, track[s : s + WINDOW].astype(np.float32) / 32768.0))
    models = {pid: SileroOnnxModel(str(model_path()), force_onnx_cpu=True) for pid in truth["participants"]}
    started, cpu = time.perf_counter(), time.process_time()
    for pid, window in windows:
        models[pid](window, rate)
    assert total_ms > 0
    return time.perf_counter() - started, time.process_time() - cpu, len(windows)


def _tracks(scenario: Scenario) -> dict[str, np.ndarray]:
    n = scenario.media_duration_ms * scenario.sample_rate // 1000
    tracks = {p.id: np.zeros(n, dtype=np.int16) for p in scenario.participants}
    for pid, events in scenario.speech_by_participant().items():
        for e in events:
            end = min(n, e.start_sample + e.samples.size)
            tracks[pid][e.start_sample : end] = e.samples[: end - e.start_sample]
    return tracks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--room", type=Path, default=REPO / "bot" / "scenarios" / "rooms" / "eight.json")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scenario = load_scenario(args.room)
    media_s = scenario.media_duration_ms / 1000
    people = len(scenario.participants)

    def runtime() -> EventRuntime:
        return create_runtime(SessionContext(session_id="bench"), stdout=open(os.devnull, "wb"))

    keys = ("ours", "ours, Pipecat idle", "ours, per-participant", "naive", "pass-through", "floor", "speech floor")
    results: dict[str, list[float]] = {k: [] for k in keys}
    cpu: dict[str, list[float]] = {k: [] for k in keys}

    def note(key: str, wall: float, cpu_s: float) -> None:
        results[key].append(wall)
        cpu[key].append(cpu_s)

    chain_len = 0
    floor_windows = speech_windows = 0
    for _ in range(args.repeat):
        wall, cpu_s, chain_len = asyncio.run(play(scenario, None, runtime=runtime()))
        note("ours", wall, cpu_s)
        note("ours, Pipecat idle", *asyncio.run(play(scenario, None, runtime=runtime(), pipecat_idle=True))[:2])
        note(
            "ours, per-participant",
            *asyncio.run(play(scenario, None, runtime=runtime(), audio_frames="participant"))[:2],
        )
        note("naive", *asyncio.run(play(scenario, [NaivePerParticipantVAD()], audio_frames="participant"))[:2])
        note("pass-through", *asyncio.run(play(scenario, [PassThrough() for _ in range(chain_len)]))[:2])
        wall, cpu_s, floor_windows = floor_seconds(args.room, speech_only=False)
        note("floor", wall, cpu_s)
        wall, cpu_s, speech_windows = floor_seconds(args.room, speech_only=True)
        note("speech floor", wall, cpu_s)

    audio_frames = sum(1 for _ in range(0, scenario.media_duration_ms, 20)) * people
    med = {k: statistics.median(v) for k, v in results.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    print(
        f"room {args.room.name}: {people} participants, {media_s:.1f} s of media, {audio_frames} audio frames; "
        f"median of {args.repeat}; chain of {chain_len} processors; floor = {floor_windows} windows, {speech_windows} with speech"
    )
    print(f"{'way':<44} {'wall s':>8} {'CPU s':>7} {'× real time':>12} {'µs/audio frame':>15} {'vs ours':>8}")
    rows = [
        ("ours: room pipeline (gated Silero)", "ours"),
        ("ours, Pipecat's idle observer", "ours, Pipecat idle"),
        ("ours, per-participant frames, unbatched", "ours, per-participant"),
        ("naive: analyzer per participant", "naive"),
        ("floor: bare inference, all windows", "floor"),
        ("speech floor: bare inference, speech", "speech floor"),
        (f"pass-through × {chain_len} (framework)", "pass-through"),
    ]
    for label, key in rows:
        wall = med[key]
        print(
            f"{label:<44} {wall:8.3f} {med_cpu[key]:7.3f} {media_s / wall:12.1f} {wall / audio_frames * 1e6:15.1f}"
            f" {wall / med['ours']:8.2f}"
        )
    print()
    print("                      wall   CPU")
    for label, key, target in (
        ("ours / naive", "naive", "(target < 1)"),
        ("ours / floor", "floor", "(target ≤ 1.5; the floor has no transport, framework or analytics)"),
        ("ours / speech floor", "speech floor", "(what is left to win: transport, framework, analytics)"),
        ("ours / per-participant", "ours, per-participant", "(what the combined frame and batching save)"),
        ("ours / Pipecat idle", "ours, Pipecat idle", "(what the session's own idle watch saves)"),
    ):
        print(f"{label:<21} {med['ours'] / med[key]:5.2f}  {med_cpu['ours'] / med_cpu[key]:5.2f}   {target}")
    print(
        f"ours × real time      {media_s / med['ours']:5.1f}  {media_s / med_cpu['ours']:5.1f}"
        "   (target ≥ 20 for 8 participants on one core)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
