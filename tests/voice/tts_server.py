"""A real OpenAI-compatible text-to-speech server on 127.0.0.1 for tests and benchmarks.

aiohttp on port 0 in a background thread. ``POST /v1/audio/speech`` with OpenAI's body
(``model``, ``voice``, ``input``, ``response_format``) answers as OpenAI does for
``response_format="pcm"``: raw 24 kHz, 16-bit signed little-endian, mono samples, streamed in
chunks, synthesized at request time by espeak-ng and resampled to 24 kHz with soxr. ``mode``
scripts failures: ``"error"`` (HTTP 500), ``"hang"`` (no answer until the server stops),
``"slow"`` (``delay_secs`` before the first byte). Every request body is recorded. The server
stops when the ``with`` block ends, and by itself after ``lifetime_secs`` whatever happens.

Usage::

    with LocalTTSServer() as server:
        build_tts("openai", base_url=server.base_url, api_key="sk-test")
        server.requests   # [{"model": ..., "voice": "alloy", "input": "...", "response_format": "pcm"}]
"""

from __future__ import annotations

import asyncio
import io
import shutil
import wave
from typing import Any

import numpy as np
import soxr
from aiohttp import web

from tests.loopback_server import LoopbackServer

__all__ = ["OPENAI_PCM_RATE", "LocalTTSServer", "espeak_pcm"]

OPENAI_PCM_RATE = 24_000
CHUNK_BYTES = 4_800  # 100 ms of 24 kHz int16


def espeak_pcm(text: str, rate: int = OPENAI_PCM_RATE) -> bytes:
    """``text`` spoken by espeak-ng, as int16 mono PCM at ``rate`` (blocking)."""
    import subprocess

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (scripts/setup-system.sh installs it)")
    wav = subprocess.run(
        [exe, "-v", "en-us", "-s", "185", "--stdout", text], capture_output=True, check=True, timeout=30
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        src_rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    if src_rate != rate:
        samples = soxr.resample(samples, src_rate, rate).astype(np.int16)
    return samples.astype("<i2").tobytes()


class LocalTTSServer(LoopbackServer):
    thread_name = "local-tts"

    def __init__(self, *, mode: str = "ok", delay_secs: float = 0.0, lifetime_secs: float = 180.0) -> None:
        super().__init__(lifetime_secs=lifetime_secs)
        self.mode = mode
        self.delay_secs = delay_secs
        self.requests: list[dict[str, Any]] = []
        self._cache: dict[str, bytes] = {}

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        assert self._stop is not None
        if self.mode == "error":
            return web.json_response({"error": {"message": "scripted failure", "type": "server_error"}}, status=500)
        if self.mode == "hang" or self.delay_secs:
            try:
                await asyncio.wait_for(
                    self._stop.wait(), timeout=self.lifetime_secs if self.mode == "hang" else self.delay_secs
                )
            except TimeoutError:
                pass
            if self.mode == "hang":
                return web.Response(status=504)
        if body.get("response_format") != "pcm" or not body.get("input") or not body.get("voice"):
            return web.json_response(
                {"error": {"message": "expected input, voice and response_format=pcm"}}, status=400
            )
        text = str(body["input"])
        pcm = self._cache.get(text)
        if pcm is None:
            pcm = self._cache[text] = await asyncio.to_thread(espeak_pcm, text)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        for i in range(0, len(pcm), CHUNK_BYTES):
            await response.write(pcm[i : i + CHUNK_BYTES])
        await response.write_eof()
        return response

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/audio/speech", self._speech)


if __name__ == "__main__":  # python -m tests.voice.tts_server; then OPENAI_BASE_URL=<printed URL> ./run --voice
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Local OpenAI-compatible TTS (espeak-ng) on 127.0.0.1")
    parser.add_argument("--lifetime-secs", type=float, default=3600.0)
    args = parser.parse_args()
    with LocalTTSServer(lifetime_secs=args.lifetime_secs) as server:
        print(server.base_url, flush=True)
        try:
            time.sleep(args.lifetime_secs)
        except KeyboardInterrupt:
            pass
