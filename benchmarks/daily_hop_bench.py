"""CPU spent handing Daily's audio chunks from daily-core's threads to the event loop, 5 to 40 people.

    python benchmarks/daily_hop_bench.py [--participants 5 20 40] [--seconds 3] [--repeat 3]

daily-core calls the audio renderer of every participant every 20 ms on its own thread. Pipecat
1.14's ``DailyTransportClient._call_async_callback`` hands each chunk to the loop with
``asyncio.run_coroutine_threadsafe(queue.put(...)).result()``: a coroutine and a concurrent future
per chunk, and the calling thread *blocks* until the loop has run the put. At 20 participants that
is 1000 blocking hops a second. ``bot.rooms.daily`` replaces it for audio with
``loop.call_soon_threadsafe(queue.put_nowait, item)`` (the queue is unbounded, the order the
same): no coroutine, no future, no wait.

Each run drives N threads, one per participant, each delivering a 20 ms chunk (640 bytes) every
20 ms of wall time, as daily-core does, into the real ``DailyTransportClient`` (Pipecat's code,
its CallClient never joined) whose audio task consumes the queue, for ``--seconds``. Reported: the
process's CPU time per second of room audio (a core's percent), median of ``--repeat`` runs,
Pipecat's hop and ours in the same run, and their ratio. Absolute numbers depend on the machine
(it is shared here); read the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loguru import logger  # noqa: E402

logger.remove()
logger.add(sys.stderr, level="ERROR")

from pipecat.transports.daily.transport import DailyCallbacks, DailyParams, DailyTransportClient  # noqa: E402
from pipecat.utils.asyncio.task_manager import TaskManager  # noqa: E402

from bot.rooms.daily import install_nonblocking_audio_hop  # noqa: E402

CHUNK = SimpleNamespace(audio_frames=bytes(640), sample_rate=16000, num_channels=1)


async def _noop(*_args: Any) -> None:
    return None


def make_client(loop: asyncio.AbstractEventLoop) -> DailyTransportClient:
    callbacks = DailyCallbacks(**{name: _noop for name in DailyCallbacks.model_fields})
    client = DailyTransportClient("https://acme.daily.co/bench", None, "bench", DailyParams(), callbacks, "bench")
    client._task_manager = TaskManager(loop=loop)
    client._audio_queue = asyncio.Queue()
    return client


async def run_once(participants: int, seconds: float, ours: bool) -> float:
    loop = asyncio.get_running_loop()
    client = make_client(loop)
    if ours:
        install_nonblocking_audio_hop(client)
    consumed = 0

    async def on_audio(*_args: Any) -> None:
        nonlocal consumed
        consumed += 1

    client._audio_renderers = {f"p{i}": {"microphone": on_audio} for i in range(participants)}

    async def consume() -> None:
        while True:
            callback, *args = await client._audio_queue.get()
            await callback(*args)

    consumer = asyncio.create_task(consume())
    stop = threading.Event()

    def daily_core_thread(pid: str) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            client._audio_data_received(pid, CHUNK, "microphone")  # type: ignore[arg-type]  # a stand-in for AudioData
            next_at += 0.020
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    threads = [threading.Thread(target=daily_core_thread, args=(f"p{i}",), daemon=True) for i in range(participants)]
    cpu0, wall0 = time.process_time(), time.monotonic()
    for t in threads:
        t.start()
    await asyncio.sleep(seconds)
    stop.set()

    def join_all() -> None:
        for t in threads:
            t.join()

    await asyncio.to_thread(join_all)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    consumer.cancel()
    expected = participants * wall / 0.020
    assert consumed > 0.8 * expected, (consumed, expected)
    return 100.0 * cpu / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, nargs="+", default=[5, 20, 40])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| participants | chunks/s | Pipecat's hop (% of a core) | ours (% of a core) | ours / Pipecat's |")
    print("|---:|---:|---:|---:|---:|")
    for n in args.participants:
        pipecat, ours = [], []
        for _ in range(args.repeat):
            pipecat.append(asyncio.run(run_once(n, args.seconds, ours=False)))
            ours.append(asyncio.run(run_once(n, args.seconds, ours=True)))
        p, o = statistics.median(pipecat), statistics.median(ours)
        print(f"| {n} | {n * 50} | {p:.1f} | {o:.1f} | {o / p:.2f} |")


if __name__ == "__main__":
    main()
