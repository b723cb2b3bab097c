"""Draw a room's timeline with the bot's voice, to check by eye that it speaks only in the gaps.

One lane per participant (ground-truth voiced intervals, bot/scenarios/tools/truth.py), one lane
for the bot (its ``facilitator.speech.*`` spans from the envelopes, and the level of its recorded
WAV track under them). Uses Pillow (a Pipecat dependency), nothing else.

    python benchmarks/voice_plot.py ROOM.json EVENTS.jsonl BOT.wav -o timeline.png
"""

from __future__ import annotations

import argparse
import json
import wave
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bot.scenarios.tools.truth import load_truth
from bot.voice.timing import bot_spans

COLOURS = [(66, 133, 244), (52, 168, 83), (251, 188, 5), (234, 67, 53), (142, 36, 170), (0, 172, 193)]


def plot(room: Path, events: Path, bot_wav: Path | None, out: Path, *, px_per_s: int = 40) -> None:
    truth = load_truth(room)
    envelopes = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    spans = bot_spans(envelopes)
    people = list(truth["participants"].items())
    duration = truth["durationMs"]
    lane, left, top = 34, 90, 24
    width = left + duration * px_per_s // 1000 + 20
    height = top + lane * (len(people) + 2) + 20
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)

    def x(ms: float) -> int:
        return left + int(ms * px_per_s / 1000)

    for s in range(0, duration // 1000 + 1):
        draw.line([(x(s * 1000), top - 6), (x(s * 1000), height - 20)], fill=(235, 235, 235))
        if s % 5 == 0:
            draw.text((x(s * 1000) + 2, 4), f"{s}s", fill="black")
    for row, (pid, info) in enumerate(people):
        y = top + row * lane
        draw.text((4, y + 8), info.get("name") or pid, fill="black")
        for a, b in info["intervals"]:
            draw.rectangle([x(a), y + 4, x(b), y + lane - 8], fill=COLOURS[row % len(COLOURS)])
    y = top + len(people) * lane
    draw.text((4, y + 8), "bot", fill="black")
    for a, b, reason in spans:
        colour = (200, 0, 0) if reason == "barge_in" else (40, 40, 40)
        draw.rectangle([x(a), y + 4, x(b), y + lane - 8], outline=colour, fill=(200, 200, 200))
        draw.text((x(a), y + lane - 8), reason, fill=colour)
    if bot_wav is not None and bot_wav.exists():
        with wave.open(str(bot_wav)) as w:
            rate = w.getframerate()
            samples = np.abs(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int32))
        step = rate // px_per_s
        yw = top + (len(people) + 1) * lane
        draw.text((4, yw + 8), "bot wav", fill="black")
        peak = max(1, int(samples.max()))
        for i in range(0, samples.size, step):
            level = int(samples[i : i + step].max() * (lane - 8) / peak)
            if level:
                px = x(i * 1000 / rate)
                draw.line([(px, yw + lane // 2 - level // 2), (px, yw + lane // 2 + level // 2)], fill=(200, 0, 0))
    img.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("room", type=Path)
    parser.add_argument("events", type=Path)
    parser.add_argument("bot_wav", type=Path, nargs="?")
    parser.add_argument("-o", "--out", type=Path, default=Path("voice-timeline.png"))
    args = parser.parse_args()
    plot(args.room, args.events, args.bot_wav, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
