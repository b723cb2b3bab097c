"""Crosstalk (bleed): another participant's voice picked up by this participant's microphone.

When two people sit near each other with open microphones, each track carries the other's voice
some 15-25 dB down. Silero rightly calls that speech, so without this filter the quiet neighbour
"speaks" whenever the loud one does (precision 0.15-0.42 on the real-speech rooms with -20 dB
bleed). ``CrosstalkFilter`` tells bleed from the participant's own voice by what bleed is: a
delayed, attenuated copy of a louder track that is speaking at the same moment.

A sounding window of participant X is **crosstalk** when some participant Y who is speaking (or
about to: a start not yet confirmed) has, over the same media time, a level at least
``margin_db`` above X's, and X's window correlates with Y's audio at some lag from ``min_lag_ms``
to ``max_lag_ms`` (Y leads: the sound reaches Y's microphone first) with a normalised correlation
of at least ``min_correlation``. X's own voice over the bleed lowers the correlation (a voice 2 dB
above the bleed already brings it to ~0.6), so a real overlap, even a quiet one, is kept. The
window is then silence for X's speaking state.

Cost: the level check runs only while someone else is speaking (or her track sounds) and X's
window is sounding (overlaps and bleed, not the usual one-speaker-at-a-time); a neighbour's
sounding is read from the chunk powers kept anyway (a few comparisons); while a telephone-band
track is in the room, every track's line floor takes a periodogram of its last ~100 ms every
~100 ms; the correlation (~512 x 480 multiply-adds) only when the level check says bleed is
possible, and a second one on both tracks high-passed (``band_correlation_hz``, about three times
the first with the filtering) only when the first falls short. No asyncio, no Pipecat.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

__all__ = ["DEFAULT_CROSSTALK", "CrosstalkFilter", "CrosstalkParams"]


@dataclass(frozen=True)
class CrosstalkParams:
    """Parameters:
    margin_db: the other track must be at least this much louder over the window. Bleed sits
        15-25 dB under its source; a real quiet speaker overlapping a loud one can be closer.
    min_correlation: normalised cross-correlation at the best lag above which X's window is
        taken for a copy of Y's audio. Pure bleed over -47 dBFS room tone scores ~0.8; bleed
        under X's own voice 2 dB louder ~0.6.
    min_lag_ms, max_lag_ms: lags searched (Y ahead of X by up to ``max_lag_ms``: ~8 m of sound
        path plus clock jitter; a little negative for stamp jitter).
    history_ms: audio kept per participant: a window checked up to ~120 ms late (``ParticipantVAD``
        waits for a neighbour's audio) still has the 32 ms window, the 30 ms of lags and the 6th-order
        high-pass's ~50 ms lead-in behind it.
    learn_correlation: a window correlating this well is clean bleed: its level relative to the
        source updates the pair's **coupling** (dB, exponential average with ``learn_rate``),
        when its best lag is within ``lag_tolerance_ms`` of the pair's previous clean-bleed
        window's (one acoustic path, one delay). A quiet telephone-band voice correlated 0.85
        with a loud neighbour's at some lag once; the coupling learned from it (-28.5 dB) then
        took that voice for bleed whenever the neighbour talked 22 dB louder.
    own_voice_db: once a pair's coupling is known, a window of X while Y talks is bleed unless
        X is more than this above the bleed Y's level predicts (X's own voice on top of it). Per
        window correlation alone flickers where the bleed sinks towards the room tone (0.3-0.6
        between clean-bleed windows of 0.9), and each flicker let Silero's state carry X's
        "speech" on; the level test does not flicker, and still keeps a voice 5 dB over the bleed.
    fade_ms: for this long after a window of X was found to be Y's bleed, while Y still talks, a
        window of X no louder than the loudest of those bleed windows is bleed too, even when Y
        is not ``margin_db`` louder at that moment. In a dip of Y's speech (a stop closure, a
        breath) Y's level falls towards X's room tone, the margin test fails, and Silero, whose
        state on X had been following the bleed, scored X's room tone 0.99-1.00 for three
        windows: a false start on X (brown-noise room tone under -20 dB bleed of a talker 8 dB
        louder than X). X's own voice starting in that dip is louder than its bleed was (X
        talks ~20 dB over the bleed at the same level), so it passes.
    dip_db: ...and only while Y is at least this much below its loudest window in those bleed
        windows (Y in a dip): the rule is for bleed fading with its source, not for whatever
        X says quietly while Y talks on at full level.
    own_voice_min_db, own_voice_floor_db, floor_ms: ``own_voice_db`` is generous when Y is loud:
        X's own voice 3-5 dB over the bleed Y's level predicts was taken for bleed (``prompts``:
        a -30 dBFS holder talking on while a neighbour 14 dB louder began; her phrase was cut
        340 ms early and the interruption reported as an overlap). So a window is X's own voice
        when what the predicted bleed leaves unexplained is at least as loud as the bleed
        (``own_voice_min_db`` 3: X 3 dB over it) and ``own_voice_floor_db`` (10 dB) over X's
        room tone, the lowest ~100 ms power of X's track in the last ``floor_ms``. Bleed sinking
        towards the room tone leaves only room tone unexplained, so it stays bleed (that is
        what ``own_voice_db`` is for). The fade rule comes first. ``own_voice_floor_db=0``
        turns it off.
    narrowband_below_db, narrowband_loud_db, narrowband_min_windows, line_low_hz: a telephone-band
        track (a participant dialled in) carries none of its voice below 300 Hz, while its bleed
        on a neighbour's microphone (the caller sitting next to it) is the whole voice. Y's
        track is then only 7-14 dB above its bleed on X, not 20 (``kt-phone``: coupling learned
        at -11.4 dB), the ``margin_db`` test fails in Y's quieter windows, and Silero scored the
        bleed 0.85-0.93: seven false stretches on X (precision 0.817). So Y's **share of power
        below 250 Hz** is followed over its loud windows (``narrowband_loud_db`` over its room
        tone, checked ones only): telephone-band tracks measure -47..-57 dB on every real-speech
        room, wide-band ones -2..-19 dB. Once ``narrowband_min_windows`` put it under
        ``narrowband_below_db``, X's level against Y is its power above ``line_low_hz`` (X
        through a 6th-order high-pass: a periodogram's in-band share over-counted the bleed by
        6 dB, leakage from its strong low band, and the coupling learned from it, -15.5 dB where
        the room's is -21, took the end of a quiet word over the caller's onset for bleed), for
        every level test; for the correlation, X through the 2nd-order high-pass (closer to the
        line's own edge: the bleed correlated 0.85-0.86 with the line through it, 0.79-0.83
        through a 4th-order one).
    line_high_hz: ...and in a room of 16 kHz or more, where the band reaches past the line's top,
        the line has nothing above 3400 Hz either: a telephone-band track must also have next to
        nothing above ``HIGH_HZ`` (a wide-band voice's "s" has nothing under 250 Hz and was taken
        for a line: ``kt-panel``), and X's level against it is measured up to here (its 6th-order
        high-passed power times its periodogram share under this), as is the line floor of
        ``line_floor_db``: a caller's "s" reaches her neighbour's microphone and not her line
        (``kt-call``: measured above 300 Hz only, the neighbour's bleed window was as loud as the
        caller's line and she "spoke" in 17 stretches of it; precision 0.832 -> 0.929), and X's
        window, while X is quiet, is correlated with the line through the line's band
        (``_line_passed``: what X has over the line's top cannot correlate with it; the caller's
        fricatives on her neighbour's microphone correlated 0.44-0.64 without it, 0.73-0.87 with
        it; precision 0.943 -> 0.966). While X speaks, from 300 Hz up as before: within the
        line's band nothing sees X's own "s" over a caller's talk. At 8 kHz the 3400-4000 Hz left
        is not used (tried: it cut a quiet talker's own syllable under the caller's onset,
        ``kt-phone`` recall 0.997 -> 0.984).
    band_correlation_hz: a window whose wide-band correlation with Y falls short of
        ``min_correlation`` is correlated again with both tracks high-passed here (2nd order), and
        is bleed if that reaches ``min_correlation``. Rumble on X's track (ventilation: brown
        noise, ~95 % of its power under 350 Hz) is not in Y's audio and dilutes the correlation:
        on ``kt-meeting`` a -42 dBFS talker on -50 dBFS rumble had her neighbour's bleed correlate
        0.47-0.65 wide-band and 0.81-0.98 above 300 Hz, and Silero, scoring the bleed, started her
        speech three times (precision 0.970; 1.000 with it). Two voices that are not copies of each
        other stay under 0.65 either way there. Only the decision uses it: the coupling is learned from
        wide-band correlation. Not for a telephone-band Y (X is high-passed for it already).
        0 turns it off.
    sounding_db: a neighbour Y whose start the speaking tracker has not taken yet is still checked
        as the source of X's window when Y's track is this much over its room tone in a chunk
        overlapping the window (``sounding``, a cheap test before the check) and over the window
        itself: the margin test, then the correlation (and, for a telephone-band Y, the
        ``line_floor_db`` rule), without the coupling's level rule or the fade rule, and nothing
        is learned from it (coupling, path delay, fade memory; Y's own band is, from her loud
        windows, as for a talker). Silero can take 250 ms to call a voice speech
        (``kt-phone``: a -22 dBFS telephone-band talker scored 0.05-0.25 after a refresh on her
        line noise) while her bleed on a neighbour's microphone scores 0.55-0.80 at once: the
        neighbour started speaking. With the level rules too, a loud talker's first syllables
        took a quiet neighbour's own tails for bleed (``kt-meeting``), and learned there the
        coupling came out 3 dB high. 0 turns it off.
    line_floor_db: a telephone-band Y's voice below the line's edge (its fundamental, most of a
        soft start) reaches X's microphone but not Y's track, so it cannot be correlated with Y,
        and the level rules compare X above the edge, where it may hold only room tone: on
        ``kt-phone`` such a start of the caller's scored 0.50-0.65 on her neighbour's microphone
        (correlation 0.2, X above 300 Hz 0-1 dB over its room tone there) and started speech on
        it. So while X is quiet (``is_bleed``'s ``quiet``: the window could only start speech),
        a window of X is Y's bleed when the pair's coupling is known (Y's voice does reach X),
        the margin test passes and X above ``line_low_hz`` is within this of its room tone there
        (followed for every track while a telephone-band one is in the room). X's own voice has its
        formants above 300 Hz; but a soft start of X's own can be as low (``meeting-6``: a
        window 2 dB over, with no bleed path: hence the coupling), and a tail can too (``kt-phone``:
        a quiet talker's tails on rumble, 0.4 s of them: hence only while X is quiet). 0 turns it off.
    """

    margin_db: float = 10.0
    min_correlation: float = 0.7
    learn_correlation: float = 0.85
    own_voice_db: float = 6.0
    learn_rate: float = 0.2
    min_lag_ms: int = -5
    max_lag_ms: int = 25
    history_ms: int = 300
    fade_ms: int = 200
    dip_db: float = 6.0
    lag_tolerance_ms: float = 1.0
    own_voice_min_db: float = 3.0
    own_voice_floor_db: float = 10.0
    floor_ms: int = 3000
    narrowband_below_db: float = -30.0
    narrowband_loud_db: float = 20.0
    narrowband_min_windows: int = 3
    line_low_hz: float = 300.0
    line_high_hz: float = 3400.0
    band_correlation_hz: float = 300.0
    sounding_db: float = 3.0
    line_floor_db: float = 3.0

    def __post_init__(self) -> None:
        for name in ("sounding_db", "line_floor_db"):
            value = getattr(self, name)
            if not 0 <= value < 60:  # NaN too
                raise ValueError(
                    f"CrosstalkParams: {name} must be 0 (off) or a positive dB figure under 60, got {value}"
                )
        if not 0 < self.line_low_hz < self.line_high_hz:  # NaN too
            raise ValueError(
                "CrosstalkParams: the line's band needs 0 < line_low_hz < line_high_hz, "
                f"got {self.line_low_hz} and {self.line_high_hz}"
            )
        if not 0 <= self.band_correlation_hz < 4000:  # under the Nyquist frequency of an 8 kHz room
            raise ValueError(
                f"CrosstalkParams: band_correlation_hz must be 0 (off) or under 4000 Hz, got {self.band_correlation_hz}"
            )


class _Ring:
    """The last chunks of one participant, with the media time of the end of the newest.

    Pushing is an append (the per-20-ms path, paid by every participant); the chunks are joined
    only when a window is checked, which happens during overlaps and bleed only, and every 100 ms
    while a telephone-band track is in the room (the line floor).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.floor = _SlidingMin()
        self.low_power = 0.0  # decayed sums over loud checked windows: power below 250 Hz ...
        self.high_power = 0.0  # ... above HIGH_HZ (16 kHz rooms) ...
        self.all_power = 0.0  # ... and all power
        self.loud_windows = 0
        self.band_seen_ms: float | None = None  # the window those sums last took in (one per window)
        self.chunks: deque[np.ndarray] = deque()
        self.held = 0
        self.end_ms: float | None = None
        # (start ms, end ms, power) of recent chunks; bounded by count too (a stamp that stands still)
        self.powers: deque[tuple[float, float, float]] = deque(maxlen=MAX_CHUNKS)
        self._audio: np.ndarray | None = None  # the chunks joined, until the next push
        # room tone in the line's band once a telephone-band track is in the room, from the last
        # 100 ms of audio every 100 ms (a periodogram per chunk cost more than the rest of the push)
        self.line_floor = _SlidingMin(smooth=1)
        self.line_due = 0  # samples pushed since the line floor last took a value

    def push(self, samples: np.ndarray, end_ms: float) -> None:
        self._audio = None
        self.chunks.append(samples)
        self.held += samples.size
        while self.chunks and self.held - self.chunks[0].size >= self.size:
            self.held -= self.chunks.popleft().size
        self.end_ms = end_ms

    def audio(self) -> np.ndarray:
        """The chunks held, joined (once per push: a window is checked against several neighbours)."""
        if self._audio is None:
            self._audio = np.concatenate(self.chunks).astype(np.float32) if self.chunks else np.zeros(0, np.float32)
        return self._audio


class CrosstalkFilter:
    """Per-room: feed every participant's audio, ask whether a window of one is another's bleed.

    Example::

        ct = CrosstalkFilter(16000)
        ct.push("p-a", samples_a, end_ms=1020)
        ct.push("p-b", samples_b, end_ms=1020)
        ct.is_bleed("p-b", window_end_ms=1024, window_ms=32, talking=["p-a"])
    """

    def __init__(self, sample_rate: int, params: CrosstalkParams | None = None) -> None:
        self.params = params or CrosstalkParams()
        self.rate = sample_rate
        self._rings: dict[str, _Ring] = {}
        self._size = self.params.history_ms * sample_rate // 1000
        self._coupling: dict[tuple[str, str], float] = {}  # (x, y) -> x's level minus y's, dB, on clean bleed
        # (x, y) -> (end ms, x's power, y's power) of x's recent bleed windows
        self._bleed: dict[tuple[str, str], deque[tuple[float, float, float]]] = {}
        self._lag: dict[tuple[str, str], int] = {}  # (x, y) -> best lag (samples) of the last clean-bleed window
        # the line's top bounds X's level against a telephone-band Y only where the room's band
        # reaches twice as high (16 kHz rooms and up)
        self._line_top = 2 * self.params.line_high_hz <= sample_rate / 2
        self._line_floors = False  # a telephone-band track has been found: follow every track's line-band floor
        self.checks = 0
        self.correlations = 0
        self.bleed_windows = 0

    def push(self, pid: str, samples: np.ndarray, end_ms: float) -> None:
        """``samples`` (int16 or float, mono, at ``sample_rate``; kept by reference, not copied)
        end at media time ``end_ms``."""
        ring = self._rings.get(pid)
        if ring is None:
            ring = self._rings[pid] = _Ring(self._size)
        ring.push(samples, end_ms)
        if samples.size:
            x = samples.astype(np.float32)
            power = float(np.dot(x, x)) / x.size
            ring.floor.push(end_ms, power, self.params.floor_ms)
            if ring.powers and end_ms < ring.powers[-1][1]:
                ring.powers.clear()  # the clock went back (a new stamp): the old chunks are not before it
            ring.powers.append((end_ms - samples.size * 1000 / self.rate, end_ms, power))
            while ring.powers[0][1] < end_ms - self.params.history_ms:
                ring.powers.popleft()
            if self._line_floors:
                ring.line_due += samples.size
                if ring.line_due >= self.rate // 10:  # every 100 ms or so: all the audio since the last value
                    since = ring.audio()[-ring.line_due :]
                    ring.line_due = 0
                    ring.line_floor.push(end_ms, self._line_power(since), self.params.floor_ms)

    def sounding(self, pid: str, window_end_ms: float, window_ms: float) -> bool:
        """Is ``pid``'s track ``sounding_db`` or more over its room tone in a chunk that overlaps the
        window? (A neighbour whose start the speaking tracker has not taken yet is checked as a
        possible source of a window's bleed where this holds: ``is_bleed``'s ``sounding``.)"""
        ring = self._rings.get(pid)
        if ring is None or ring.floor.value is None or not self.params.sounding_db:
            return False
        over = max(ring.floor.value, QUIETEST_FLOOR) * 10 ** (self.params.sounding_db / 10)
        start_ms = window_end_ms - window_ms
        for chunk_start, chunk_end, power in reversed(ring.powers):
            if chunk_end <= start_ms:
                return False
            if chunk_start < window_end_ms and power >= over:
                return True
        return False

    def covers(self, talking: Iterable[str], window_end_ms: float) -> bool:
        """Has every ``talking`` track's audio (of those pushed at all) reached ``window_end_ms``?
        (A bleed check of the window also reads up to ``-min_lag_ms`` past it, where there is
        audio: a track that reached the window's end is not made to wait for more.)"""
        for pid in talking:
            ring = self._rings.get(pid)
            if ring is not None and ring.end_ms is not None and ring.end_ms < window_end_ms:
                return False
        return True

    def forget(self, pid: str) -> None:
        self._rings.pop(pid, None)
        self._coupling = {k: v for k, v in self._coupling.items() if pid not in k}
        self._bleed = {k: v for k, v in self._bleed.items() if pid not in k}
        self._lag = {k: v for k, v in self._lag.items() if pid not in k}
        self._line_floors = any(self._is_narrow(ring) for ring in self._rings.values())
        if not self._line_floors:  # the line left: a floor kept now would be stale when one comes back
            for ring in self._rings.values():
                ring.line_floor, ring.line_due = _SlidingMin(smooth=1), 0

    def _segment(self, ring: _Ring, start_ms: float, end_ms: float) -> np.ndarray | None:
        """Samples of ``ring`` covering ``[start_ms, end_ms)`` (clipped to what it holds)."""
        if ring.end_ms is None:
            return None
        end_ms = min(end_ms, ring.end_ms)
        first = round((ring.end_ms - start_ms) * self.rate / 1000)
        last = round((ring.end_ms - end_ms) * self.rate / 1000)
        buf = ring.audio()
        first = min(first, buf.size)
        if first - last <= 0:
            return None
        return buf[buf.size - first : buf.size - last]

    def is_bleed(
        self,
        pid: str,
        window_end_ms: float,
        window_ms: float,
        talking: Iterable[str],
        sounding: Iterable[str] = (),
        *,
        quiet: bool = False,
    ) -> bool:
        """Is ``pid``'s window ending at ``window_end_ms`` a copy of a louder ``talking`` track?

        Args:
            talking: participants whose speech (or a start not yet confirmed) the tracker has.
            sounding: other neighbours whose track sounds over the window (``sounding``): each
                counts only where her part of the window is ``sounding_db`` over her room tone,
                and is judged by the margin test and the correlation (for a telephone-band one,
                also ``line_floor_db``); no coupling level rule, no fade rule, nothing learned.
            quiet: ``pid`` is not speaking (the window could only start speech): for
                ``line_floor_db``, and against a telephone-band neighbour in a 16 kHz room the
                window is correlated within the line's band (``_line_passed``), not from 300 Hz up.
        """
        p = self.params
        mine = self._rings.get(pid)
        if mine is None:
            return False
        x = self._segment(mine, window_end_ms - window_ms, window_end_ms)
        if x is None or x.size < self.rate * 8 // 1000:
            return False
        px = float(np.dot(x, x)) / x.size
        if px <= 0.0:
            return False
        x_band: float | None = None  # X's power in the telephone band, computed once if needed
        x_line: np.ndarray | None = None  # X's window as a line would carry it, for the correlation
        talkers = list(talking)
        for other in [*talkers, *(q for q in sounding if q not in talkers)]:
            ring = self._rings.get(other)
            if other == pid or ring is None:
                continue
            self.checks += 1
            key = (pid, other)
            y_same = self._segment(ring, window_end_ms - window_ms, window_end_ms)
            if y_same is None or y_same.size < self.rate * 8 // 1000:
                continue
            py = float(np.dot(y_same, y_same)) / y_same.size
            speaking = other in talkers
            if not speaking and py < max(ring.floor.value or 0.0, QUIETEST_FLOOR) * 10 ** (p.sounding_db / 10):
                continue  # a neighbour not speaking counts only where her part of the window sounds
            narrow = self._narrowband(ring, y_same, py, window_end_ms)
            if narrow and x_band is None:
                steep = self._highpassed(mine, window_end_ms - window_ms, window_end_ms, x, order=6)
                x_band = max(float(np.dot(steep, steep)) / steep.size * self._under_line_top(steep), px * 1e-6)
            px_y = x_band if narrow and x_band is not None else px
            recent = self._bleed.get(key) if key in self._coupling and speaking else None
            if recent:
                while recent and window_end_ms - recent[0][0] > p.fade_ms:
                    recent.popleft()
                if (
                    recent
                    and px_y <= max(x_power for _end, x_power, _y in recent)
                    and py * 10 ** (p.dip_db / 10) <= max(y_power for _end, _x, y_power in recent)
                ):
                    self.bleed_windows += 1
                    return True  # Y in a dip, X no louder than its bleed just was: the bleed fading
            if py < px_y * 10 ** (p.margin_db / 10):
                continue
            coupling = self._coupling.get(key)
            if coupling is not None and self._own_voice(px_y, py * 10 ** (coupling / 10), mine.floor.value):
                continue
            if speaking and coupling is not None and px_y <= py * 10 ** ((coupling + p.own_voice_db) / 10):
                self._remember(key, window_end_ms, px_y, py, speaking=speaking)
                return True  # no more than the bleed the pair's coupling predicts
            if quiet and narrow and coupling is not None and self._line_quiet(mine, x):
                self._remember(key, window_end_ms, px_y, py, speaking=speaking)
                return True  # nothing of X's above the line's edge: the part of Y's voice the line cut
            y = self._segment(ring, window_end_ms - window_ms - p.max_lag_ms, window_end_ms - p.min_lag_ms)
            if y is None:
                continue
            self.correlations += 1
            x_corr = x
            if narrow:  # Y is telephone band: correlate what of X's window Y could carry
                if x_line is None:  # once per window, however many lines are checked against it
                    x_line = (
                        self._line_passed(mine, window_end_ms - window_ms, window_end_ms, x)
                        if quiet
                        else self._highpassed(mine, window_end_ms - window_ms, window_end_ms, x)
                    )
                x_corr = x_line
            corr, lag = _max_correlation(x_corr, y)
            if corr >= p.learn_correlation and speaking:
                # A real bleed path has one delay: learn the coupling only from a window whose
                # best lag repeats the pair's last clean one (a narrow-band voice can correlate
                # 0.85 with another voice at some lag of the 30 ms searched, once in a while).
                same_path = abs(lag - self._lag.get(key, -(10**9))) <= self.rate * p.lag_tolerance_ms // 1000
                self._lag[key] = lag
                if same_path:
                    level = 10 * np.log10(px_y / py)
                    self._coupling[key] = level if coupling is None else coupling + p.learn_rate * (level - coupling)
            if corr >= p.min_correlation:
                self._remember(key, window_end_ms, px_y, py, speaking=speaking)
                return True
            if (
                p.band_correlation_hz
                and not narrow
                and self._band_correlation(key, mine, ring, window_end_ms, window_ms, x, y)
            ):
                self._remember(key, window_end_ms, px_y, py, speaking=speaking)
                return True  # a copy of Y above the rumble that hid it
        return False

    def _band_correlation(
        self,
        key: tuple[str, str],
        mine: _Ring,
        ring: _Ring,
        window_end_ms: float,
        window_ms: float,
        x: np.ndarray,
        y: np.ndarray,
    ) -> bool:
        """Does X's window, with both tracks high-passed at ``band_correlation_hz``, correlate with
        Y's audio at ``min_correlation`` or more? Asked only when the wide-band correlation did
        not: X's rumble (brown noise, most of its power under 300 Hz) held that down to 0.5-0.6
        where X's bleed correlated 0.8-0.98 above it. Decides the window only: the pair's coupling
        is learned from wide-band correlation alone (X's level here includes its rumble). Once the
        pair's path delay is known (a clean-bleed window's lag), the best lag must repeat it
        within ``lag_tolerance_ms``: a copy comes down the one path, X's own voice over the bleed
        correlating at some other lag is not taken for it."""
        p = self.params
        cutoff = p.band_correlation_hz
        x_band = self._highpassed(mine, window_end_ms - window_ms, window_end_ms, x, cutoff_hz=cutoff)
        y_band = self._highpassed(
            ring, window_end_ms - window_ms - p.max_lag_ms, window_end_ms - p.min_lag_ms, y, cutoff_hz=cutoff
        )
        self.correlations += 1
        corr, lag = _max_correlation(x_band, y_band)
        path = self._lag.get(key)
        on_path = path is None or abs(lag - path) <= self.rate * p.lag_tolerance_ms // 1000
        return corr >= p.min_correlation and on_path

    def _highpassed(
        self, ring: _Ring, start_ms: float, end_ms: float, x: np.ndarray, order: int = 2, cutoff_hz: float | None = None
    ) -> np.ndarray:
        """``x`` (the segment ``[start_ms, end_ms)`` of ``ring``) through a Butterworth high-pass at
        ``cutoff_hz`` (default ``line_low_hz``) of ``order`` (2, 4, 6, ...), run in from the audio
        before it."""
        kernel = _highpass(cutoff_hz or self.params.line_low_hz, self.rate, order)
        lead = self._segment(ring, start_ms - kernel.size * 1000 / self.rate, end_ms)
        if lead is None or lead.size < x.size:
            return x
        out: np.ndarray = np.convolve(lead, kernel)[lead.size - x.size : lead.size].astype(np.float32, copy=False)
        return out

    def _line_passed(self, ring: _Ring, start_ms: float, end_ms: float, x: np.ndarray) -> np.ndarray:
        """``x`` as a telephone line carries it: through the 2nd-order high-pass at ``line_low_hz``
        and, in a room that reaches past the line's top, without what is over ``line_high_hz``
        (a raised-cosine edge up to ``HIGH_HZ``, zero-phase, run in from ``LINE_RUN_IN_MS`` of
        audio before it and padded with as many zeros after it; with less audio before it, as at
        a track's start, the high-pass alone). What X has over the line's top cannot correlate
        with the line: a caller's fricatives on her neighbour's microphone held the correlation at
        0.44-0.64 (``kt-call``)."""
        run_in = self.rate * LINE_RUN_IN_MS // 1000
        lead = self._segment(ring, start_ms - LINE_RUN_IN_MS, end_ms) if self._line_top else None
        if lead is None or lead.size < x.size + run_in:
            return self._highpassed(ring, start_ms, end_ms, x)
        high = self._highpassed(ring, start_ms - LINE_RUN_IN_MS, end_ms, lead)
        n = lead.size + run_in  # zero padding: the edge rings into it
        spectrum = np.fft.rfft(high, n)
        spectrum *= _line_top_taper(n, self.rate, self.params.line_high_hz)
        out: np.ndarray = np.fft.irfft(spectrum, n)[lead.size - x.size : lead.size].astype(np.float32, copy=False)
        return out

    def narrowband(self, pid: str) -> bool:
        """Has ``pid``'s track been found telephone band (from its loud windows checked so far)?"""
        ring = self._rings.get(pid)
        return ring is not None and self._is_narrow(ring)

    def _narrowband(self, ring: _Ring, y: np.ndarray, py: float, window_end_ms: float) -> bool:
        """Is Y's track telephone band? Updated from Y's loud windows as they are checked, each
        window once however many neighbours are checked against it."""
        floor = ring.floor.value
        if (
            ring.band_seen_ms != window_end_ms
            and floor is not None
            and py >= max(floor, QUIETEST_FLOOR) * 10 ** (self.params.narrowband_loud_db / 10)
        ):
            ring.band_seen_ms = window_end_ms
            spectrum = _spectrum(y)
            freqs = np.fft.rfftfreq(y.size, 1.0 / self.rate)
            ring.low_power = NARROWBAND_DECAY * ring.low_power + float(spectrum[freqs < LOW_HZ].sum())
            ring.high_power = NARROWBAND_DECAY * ring.high_power + float(spectrum[freqs > HIGH_HZ].sum())
            ring.all_power = NARROWBAND_DECAY * ring.all_power + float(spectrum.sum())
            ring.loud_windows += 1
        narrow = self._is_narrow(ring)
        self._line_floors = self._line_floors or narrow  # from now on every track's line floor is followed
        return narrow

    def _is_narrow(self, ring: _Ring) -> bool:
        p = self.params
        if ring.loud_windows < p.narrowband_min_windows or ring.all_power <= 0.0:
            return False
        below = ring.all_power * 10 ** (p.narrowband_below_db / 10)
        # where the room's band reaches over the line's top, the line has nothing up there either:
        # a wide-band voice's "s" has nothing under 250 Hz and most of its power over 4 kHz
        return ring.low_power < below and (not self._line_top or ring.high_power < below)

    def _line_quiet(self, mine: _Ring, x: np.ndarray) -> bool:
        """Is X's window above ``line_low_hz`` within ``line_floor_db`` of its room tone there?"""
        floor = mine.line_floor.value
        if floor is None or not self.params.line_floor_db:
            return False
        return self._line_power(x) <= max(floor, QUIETEST_FLOOR) * 10 ** (self.params.line_floor_db / 10)

    def _line_power(self, x: np.ndarray) -> float:
        """Mean power of ``x`` in the line's band, ``line_low_hz`` to ``line_high_hz`` (Hann-windowed
        periodogram, scaled so white noise measures its in-band share of the mean power whatever
        the length)."""
        w = _hann(x.size)
        norm = x.size * float(np.dot(w, w))
        if norm <= 0.0:  # a chunk of a sample or two
            return 0.0
        spectrum = _spectrum(x)
        first = int(np.ceil(self.params.line_low_hz * x.size / self.rate))
        return 2.0 * float(spectrum[first : self._line_top_bin(x.size)].sum()) / norm

    def _line_top_bin(self, n: int) -> int | None:
        """The first periodogram bin (of ``n`` samples) over ``line_high_hz``; ``None`` (all of
        them) in a room under 16 kHz, where the line's top is not used."""
        return int(np.floor(self.params.line_high_hz * n / self.rate)) + 1 if self._line_top else None

    def _under_line_top(self, x: np.ndarray) -> float:
        """Share of ``x``'s power (already high-passed at the line's bottom) under ``line_high_hz``:
        1 in a room under 16 kHz, where the line's top is not used."""
        if not self._line_top:
            return 1.0
        spectrum = _spectrum(x)
        total = float(spectrum.sum())
        return float(spectrum[: self._line_top_bin(x.size)].sum()) / total if total > 0.0 else 1.0

    def _own_voice(self, px: float, bleed: float, floor: float | None) -> bool:
        """Is there more in X's window than the bleed predicted plus X's room tone: X's own voice?"""
        p = self.params
        if floor is None or not p.own_voice_floor_db:
            return False
        floor = max(floor, QUIETEST_FLOOR)
        rest = px - bleed
        return rest >= bleed * (10 ** (p.own_voice_min_db / 10) - 1) and rest >= floor * 10 ** (
            p.own_voice_floor_db / 10
        )

    def _remember(
        self, key: tuple[str, str], window_end_ms: float, x_power: float, y_power: float, *, speaking: bool
    ) -> None:
        """Count a bleed window found by the level or correlation test and keep it for ``fade_ms``
        (only against a talker: the fade rule is a talker's, and nothing is learned from a
        neighbour whose start is not taken)."""
        self.bleed_windows += 1
        if speaking and self.params.fade_ms > 0:
            recent = self._bleed.setdefault(key, deque())
            while recent and window_end_ms - recent[0][0] > self.params.fade_ms:
                recent.popleft()  # bounded here too: the fade rule prunes only pairs with a coupling
            recent.append((window_end_ms, x_power, y_power))


MAX_CHUNKS = 128
"""Recent chunks kept per track for ``sounding`` (300 ms is 30 chunks of 10 ms)."""
LOW_HZ = 250.0
"""Below this a telephone-band track carries (next to) nothing, and a wide-band voice its fundamental."""
HIGH_HZ = 3700.0
"""Above this a telephone-band track carries (next to) nothing (a 300-3400 Hz line, its roll-off)."""
NARROWBAND_DECAY = 0.95
"""Per loud window: the low-band share follows the last ~20 of them (a track can change lines)."""


@cache
def _hann(n: int) -> np.ndarray:
    return np.hanning(n).astype(np.float32)


LINE_RUN_IN_MS = 16
"""Audio before (and zeros after) a window that ``CrosstalkFilter._line_passed`` filters with it."""


@lru_cache(maxsize=64)
def _line_top_taper(n: int, rate: int, top_hz: float) -> np.ndarray:
    """Gains of an ``n``-point real FFT's bins: 1 up to ``top_hz``, a raised cosine down to 0 at
    ``HIGH_HZ`` (where a line's roll-off ends; at least ``LINE_EDGE_HZ`` over ``top_hz``: a steeper
    edge rings), 0 above. ``n`` takes few values (a window and its run-in; 64 kept)."""
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    edge = np.clip((freqs - top_hz) / max(HIGH_HZ - top_hz, LINE_EDGE_HZ), 0.0, 1.0)
    gains: np.ndarray = (0.5 + 0.5 * np.cos(np.pi * edge)).astype(np.float32)
    return gains


LINE_EDGE_HZ = 300.0
"""The narrowest edge ``_line_top_taper`` makes (``line_high_hz`` near or over ``HIGH_HZ``)."""


def _spectrum(x: np.ndarray) -> np.ndarray:
    """Hann-windowed periodogram of ``x`` (unscaled): the band shares and levels read from it leak
    little from a strong low band (a plain one put a telephone voice's share under 250 Hz at -24 dB
    instead of -48)."""
    out: np.ndarray = np.abs(np.fft.rfft(x * _hann(x.size))) ** 2
    return out


@cache
def _highpass(cutoff_hz: float, rate: int, order: int) -> np.ndarray:
    """Impulse response of ``order // 2`` of ``speech_band``'s 2nd-order Butterworth high-passes
    in cascade."""
    # imported here: bot.audio's package imports the Silero runtime, which analytics (and the
    # pre-forked bot template that imports them) must not pull in at import time
    from bot.audio.speech_band import highpass_kernel

    stage = highpass_kernel(cutoff_hz, rate)
    kernel = stage
    for _ in range(order // 2 - 1):
        kernel = np.convolve(kernel, stage)
    return kernel.astype(np.float32)


QUIETEST_FLOOR = 32768.0**2 * 10 ** (-70 / 10)
"""A track's room tone is taken to be at least -70 dBFS (int16 power): on digital silence a bleed
prediction a few dB off would otherwise look like a voice."""


class _SlidingMin:
    """Lowest power of the last ``span_ms``, each value the mean of the last ``smooth`` values
    pushed (the room tone's: 5 chunks, ~100 ms, as a 20 ms chunk of brown-noise rumble can be
    10 dB under its mean, which would put the floor far under the room tone; the line floor's: 1,
    each value already ~100 ms of audio). A monotonic deque: O(1) per push. A clock that goes back
    starts it afresh."""

    SMOOTH = 5

    def __init__(self, smooth: int = SMOOTH) -> None:
        if smooth < 1:
            raise ValueError(f"_SlidingMin: smooth must be at least 1, got {smooth}")
        self._q: deque[tuple[float, float]] = deque(maxlen=MAX_CHUNKS * 16)  # a stamp that stands still
        self._recent: deque[float] = deque(maxlen=smooth)

    def push(self, end_ms: float, power: float, span_ms: float) -> None:
        self._recent.append(power)
        if len(self._recent) < (self._recent.maxlen or 1):
            return
        power = sum(self._recent) / len(self._recent)
        q = self._q
        if q and end_ms < q[-1][0]:
            q.clear()  # the clock went back (a new stamp): what was later is not before it
        while q and q[-1][1] >= power:
            q.pop()
        q.append((end_ms, power))
        while q[0][0] <= end_ms - span_ms:
            q.popleft()

    @property
    def value(self) -> float | None:
        return self._q[0][1] if self._q else None


def _max_correlation(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """Highest normalised correlation of ``x`` against every same-length stretch of ``y``, and
    the offset (samples into ``y``) where it is."""
    if y.size < x.size:
        x = x[: y.size]
    n = x.size
    dots = np.correlate(y, x, mode="valid")
    energy = np.convolve(y * y, np.ones(n, dtype=np.float32), mode="valid")
    norm = np.sqrt(np.maximum(energy, 1e-12) * float(np.dot(x, x)))
    scores = np.abs(dots) / norm
    best = int(np.argmax(scores))
    return float(scores[best]), best


DEFAULT_CROSSTALK = CrosstalkParams()
"""The defaults, as a module-level value for argument defaults."""
