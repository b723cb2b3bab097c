"""Synthesize the scenario speech clips with espeak-ng + sox and write clips/manifest.json.

Run from the repo root: ``python bot/scenarios/tools/make_clips.py`` (needs ``espeak-ng`` and
``sox`` on PATH: ``apt-get install -y espeak-ng sox``). Deterministic and re-runnable.

Pipeline per clip:
    espeak-ng (22.05 kHz WAV) -> sox -R -D: trim leading/trailing silence
    (``silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse``), 16 kHz mono 16-bit PCM
    -> optional assembly in Python (monologue = sentences joined by fixed pauses;
       cut-off = sentence truncated mid-word) -> clips/<name>.wav

Voiced intervals (manifest ``voiced``) are measured on the final 16 kHz file:
    * 10 ms frames (160 samples, last partial frame included);
    * a frame is voiced when its RMS >= peak frame RMS of the clip * 10^(-40/20), i.e. within
      40 dB of the clip's loudest frame (espeak leaves near-digital silence between phrases,
      so the threshold is not sensitive: the decay tail after a phrase sits at -40..-60 dB);
    * runs of voiced frames are merged when the gap between them is < 200 ms; longer internal
      pauses (sentence breaks) stay separate intervals;
    * intervals are [startMs, endMs) in ms from the clip start, on the 10 ms grid, endMs
      clamped to durationMs.
"""

from __future__ import annotations

import array
import json
import math
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path
from typing import Any

SAMPLE_RATE = 16000
FRAME_MS = 10
THRESHOLD_DB = -40.0
MERGE_GAP_MS = 200
MONOLOGUE_PAUSE_MS = 350
CUT_FADE_MS = 5

CLIPS_DIR = Path(__file__).resolve().parent.parent / "clips"

# speaker -> (espeak-ng voice, speed in words per minute as given to -s)
VOICES: dict[str, tuple[str, int]] = {
    "alice": ("en-us+f3", 165),
    "bob": ("en-gb", 175),
    "carol": ("en-gb-scotland+f2", 160),
    "dan": ("en-us+m3", 150),
    "erin": ("en-gb-x-rp+f4", 185),
    "frank": ("en-029", 170),
    "grace": ("en-us+f5", 190),
    "hank": ("en-gb-x-gbclan+m2", 145),
}

# kind: speech | backchannel | monologue | cutoff
#   monologue: "sentences" synthesized one by one, joined by MONOLOGUE_PAUSE_MS of silence
#   cutoff:    "text" synthesized, then cut mid-word inside the word after "prefix"
#   "say" (optional) is what espeak-ng is given when it differs from the transcript "text"
CLIPS: list[dict[str, Any]] = [
    # --- alice ---------------------------------------------------------------------------
    {
        "name": "alice-1",
        "speaker": "alice",
        "kind": "speech",
        "text": "Good morning everyone. Let's start with the release status.",
    },
    {"name": "alice-2", "speaker": "alice", "kind": "speech", "text": "Thanks. Let's vote on it in the chat."},
    {
        "name": "alice-monologue",
        "speaker": "alice",
        "kind": "monologue",
        "sentences": [
            "Let me walk you through where the release stands right now.",
            "The importer handles every format our customers asked for.",
            "We fixed the memory problem that slowed down big uploads.",
            "The dashboards still need one more pass from design before launch.",
            "If nothing else breaks by Thursday I think we can ship on Friday morning.",
        ],
    },
    {
        "name": "alice-cut",
        "speaker": "alice",
        "kind": "cutoff",
        "text": "So the second thing I wanted to mention is the migration schedule for next week.",
        "prefix": "So the second thing I wanted to mention is the migration",
        "spoken": "So the second thing I wanted to mention is the migration sched-",
    },
    {"name": "alice-mmhm", "speaker": "alice", "kind": "backchannel", "text": "mm-hm", "say": "[[@m'h@m]]"},
    # --- bob -----------------------------------------------------------------------------
    {
        "name": "bob-1",
        "speaker": "bob",
        "kind": "speech",
        "text": "The build is green and the tests pass on every platform.",
    },
    {
        "name": "bob-2",
        "speaker": "bob",
        "kind": "speech",
        "text": "I can take the migration if someone reviews it tomorrow.",
    },
    {
        "name": "bob-3",
        "speaker": "bob",
        "kind": "speech",
        "text": "We could also split the release into two smaller parts.",
    },
    {
        "name": "bob-interject",
        "speaker": "bob",
        "kind": "speech",
        "text": "Sorry to jump in, but the migration is blocked on the database team.",
    },
    {
        "name": "bob-cut",
        "speaker": "bob",
        "kind": "cutoff",
        "text": "My main worry is the load testing because we only ran it on the small cluster.",
        "prefix": "My main worry is the load testing because we only ran it on the small",
        "spoken": "My main worry is the load testing because we only ran it on the small clus-",
    },
    {"name": "bob-short", "speaker": "bob", "kind": "speech", "text": "That is a fair point too."},
    {"name": "bob-yeah", "speaker": "bob", "kind": "backchannel", "text": "yeah"},
    # --- carol ---------------------------------------------------------------------------
    {
        "name": "carol-1",
        "speaker": "carol",
        "kind": "speech",
        "text": "The biggest risk is the payment provider changing their API.",
    },
    {
        "name": "carol-2",
        "speaker": "carol",
        "kind": "speech",
        "text": "I agree, let's keep Friday but with a rollback plan.",
    },
    {
        "name": "carol-3",
        "speaker": "carol",
        "kind": "speech",
        "text": "We should also tell support before we flip the switch.",
    },
    {
        "name": "carol-interject",
        "speaker": "carol",
        "kind": "speech",
        "text": "Hold on, the load tests found a real memory leak yesterday.",
    },
    {"name": "carol-right", "speaker": "carol", "kind": "backchannel", "text": "right"},
    # --- dan -----------------------------------------------------------------------------
    {
        "name": "dan-1",
        "speaker": "dan",
        "kind": "speech",
        "text": "The documentation is ready and the screenshots are updated.",
    },
    {
        "name": "dan-2",
        "speaker": "dan",
        "kind": "speech",
        "text": "Can we move the retrospective to next Tuesday afternoon?",
    },
    {
        "name": "dan-3",
        "speaker": "dan",
        "kind": "speech",
        "text": "I will send the release notes to marketing tonight.",
    },
    {"name": "dan-okay", "speaker": "dan", "kind": "backchannel", "text": "okay"},
    # --- erin / frank / grace / hank (eight-person and noisy rooms) ----------------------
    {
        "name": "erin-1",
        "speaker": "erin",
        "kind": "speech",
        "text": "I reviewed the onboarding flow and it feels much faster now.",
    },
    {
        "name": "erin-2",
        "speaker": "erin",
        "kind": "speech",
        "text": "The survey results came back mostly positive this month.",
    },
    {
        "name": "erin-3",
        "speaker": "erin",
        "kind": "speech",
        "text": "Let's make sure the fix ships before the holidays.",
    },
    {
        "name": "frank-1",
        "speaker": "frank",
        "kind": "speech",
        "text": "Our latency numbers improved after the cache change went live.",
    },
    {
        "name": "frank-2",
        "speaker": "frank",
        "kind": "speech",
        "text": "I still see a few timeouts from the European region.",
    },
    {
        "name": "frank-3",
        "speaker": "frank",
        "kind": "speech",
        "text": "Agreed, I will open a ticket for it right after this call.",
    },
    {
        "name": "grace-1",
        "speaker": "grace",
        "kind": "speech",
        "text": "Design signed off on the new settings page this morning.",
    },
    {
        "name": "grace-2",
        "speaker": "grace",
        "kind": "speech",
        "text": "I can pair with Frank on the timeouts this afternoon.",
    },
    {
        "name": "hank-1",
        "speaker": "hank",
        "kind": "speech",
        "text": "Security review is scheduled for Wednesday at ten.",
    },
    {
        "name": "hank-2",
        "speaker": "hank",
        "kind": "speech",
        "text": "Please add your questions to the shared document before then.",
    },
]


def _run(cmd: list[str]) -> str:
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return res.stdout


def _tool_version(cmd: list[str]) -> str:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True)
        return (res.stdout or res.stderr).strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def synth(text: str, speaker: str, workdir: Path, tag: str) -> array.array[int]:
    """espeak-ng -> trimmed 16 kHz mono 16-bit samples."""
    voice, speed = VOICES[speaker]
    raw = workdir / f"{tag}.raw.wav"
    out = workdir / f"{tag}.16k.wav"
    _run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text])
    _run(
        [
            "sox",
            "-R",
            "-D",
            str(raw),
            "-r",
            str(SAMPLE_RATE),
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(out),
            "silence",
            "1",
            "0.01",
            "0.5%",
            "reverse",
            "silence",
            "1",
            "0.01",
            "0.5%",
            "reverse",
        ]
    )
    return read_wav(out)


def read_wav(path: Path) -> array.array[int]:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        data = array.array("h")
        data.frombytes(w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        data.byteswap()
    return data


def write_wav(path: Path, samples: array.array[int]) -> None:
    data = array.array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(data.tobytes())


def frame_rms(samples: array.array[int]) -> list[float]:
    n = SAMPLE_RATE * FRAME_MS // 1000
    out = []
    for i in range(0, len(samples), n):
        chunk = samples[i : i + n]
        out.append(math.sqrt(sum(s * s for s in chunk) / len(chunk)))
    return out


def voiced_intervals(samples: array.array[int]) -> list[list[int]]:
    """Voiced [startMs, endMs) intervals on the 10 ms grid (see module docstring)."""
    rms = frame_rms(samples)
    peak = max(rms) if rms else 0.0
    if peak <= 0:
        return []
    thr = peak * 10 ** (THRESHOLD_DB / 20)
    duration_ms = round(len(samples) * 1000 / SAMPLE_RATE)
    runs: list[list[int]] = []
    for i, r in enumerate(rms):
        if r >= thr:
            s, e = i * FRAME_MS, min((i + 1) * FRAME_MS, duration_ms)
            if runs and runs[-1][1] == s:
                runs[-1][1] = e
            else:
                runs.append([s, e])
    merged: list[list[int]] = []
    for s, e in runs:
        if merged and s - merged[-1][1] < MERGE_GAP_MS:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return merged


def build_monologue(clip: dict[str, Any], workdir: Path) -> array.array[int]:
    pause = array.array("h", bytes(2 * SAMPLE_RATE * MONOLOGUE_PAUSE_MS // 1000))
    out = array.array("h")
    for i, sentence in enumerate(clip["sentences"]):
        if i:
            out.extend(pause)
        out.extend(synth(sentence, clip["speaker"], workdir, f"{clip['name']}-{i}"))
    return out


def build_cutoff(clip: dict[str, Any], workdir: Path) -> array.array[int]:
    """Full sentence truncated inside the word that follows ``prefix`` (mid-word)."""
    full = synth(clip["text"], clip["speaker"], workdir, clip["name"])
    prefix = synth(clip["prefix"], clip["speaker"], workdir, clip["name"] + "-prefix")
    n = SAMPLE_RATE * FRAME_MS // 1000
    rms = frame_rms(full)
    loud = max(rms) * 10 ** (-20 / 20)
    # The prefix alone ends with phrase-final lengthening, so the next word of the full
    # sentence has started by len(prefix); go 120 ms further and cut in the first loud frame.
    start_frame = (len(prefix) + SAMPLE_RATE * 120 // 1000) // n
    frame = next(i for i in range(start_frame, len(rms)) if rms[i] >= loud)
    cut = frame * n + n // 2
    out = array.array("h", full[:cut])
    fade = SAMPLE_RATE * CUT_FADE_MS // 1000
    for k in range(fade):
        idx = len(out) - fade + k
        out[idx] = int(out[idx] * (fade - k) / fade)
    return out


def build(clip: dict[str, Any], workdir: Path) -> array.array[int]:
    kind = clip["kind"]
    if kind == "monologue":
        return build_monologue(clip, workdir)
    if kind == "cutoff":
        return build_cutoff(clip, workdir)
    return synth(clip.get("say", clip["text"]), clip["speaker"], workdir, clip["name"])


def transcript(clip: dict[str, Any]) -> str:
    if clip["kind"] == "monologue":
        return " ".join(clip["sentences"])
    if clip["kind"] == "cutoff":
        return str(clip["spoken"])
    return str(clip["text"])


def main() -> int:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found; apt-get install -y espeak-ng sox", file=sys.stderr)
            return 2
    CLIPS_DIR.mkdir(parents=True, exist_ok=True)
    wanted = {c["name"] + ".wav" for c in CLIPS}
    for stale in CLIPS_DIR.glob("*.wav"):
        if stale.name not in wanted:
            stale.unlink()

    entries: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="prism-clips-") as tmp:
        workdir = Path(tmp)
        for clip in CLIPS:
            samples = build(clip, workdir)
            write_wav(CLIPS_DIR / f"{clip['name']}.wav", samples)
            voiced = voiced_intervals(samples)
            text = transcript(clip)
            voice, speed = VOICES[clip["speaker"]]
            entries[clip["name"]] = {
                "file": f"{clip['name']}.wav",
                "text": text,
                "voice": voice,
                "speed": speed,
                "speaker": clip["speaker"],
                "kind": clip["kind"],
                "durationMs": round(len(samples) * 1000 / SAMPLE_RATE),
                "voiced": voiced,
                "voicedMs": sum(e - s for s, e in voiced),
                "words": len(text.split()),
            }

    manifest = {
        "sampleRate": SAMPLE_RATE,
        "frameMs": FRAME_MS,
        "thresholdDbRePeak": THRESHOLD_DB,
        "mergeGapMs": MERGE_GAP_MS,
        "monologuePauseMs": MONOLOGUE_PAUSE_MS,
        "generator": {
            "script": "bot/scenarios/tools/make_clips.py",
            "espeak-ng": _tool_version(["espeak-ng", "--version"]),
            "sox": _tool_version(["sox", "--version"]),
        },
        "clips": entries,
    }
    (CLIPS_DIR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

    total_bytes = sum(p.stat().st_size for p in CLIPS_DIR.glob("*.wav"))
    hdr = f"{'clip':<18} {'voice':<20} {'wpm':>3} {'kind':<11} {'durMs':>6} {'voicedMs':>8} {'ivs':>3} {'words':>5}"
    print(hdr)
    print("-" * len(hdr))
    for name, e in entries.items():
        print(
            f"{name:<18} {e['voice']:<20} {e['speed']:>3} {e['kind']:<11} {e['durationMs']:>6} "
            f"{e['voicedMs']:>8} {len(e['voiced']):>3} {e['words']:>5}"
        )
    total_ms = sum(e["durationMs"] for e in entries.values())
    print("-" * len(hdr))
    print(f"{len(entries)} clips, {total_ms / 1000:.1f} s of audio, {total_bytes / 1e6:.2f} MB in {CLIPS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
