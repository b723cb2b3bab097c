"""The supervisor's Prometheus metrics, in its own ``CollectorRegistry``.

Hot-path counting is plain Python (``Counter`` and a small histogram): one line of a bot's stdout
costs a few dictionary increments, not a prometheus-client lock per label set. A custom collector
turns them into metric families when ``/metrics`` is scraped.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from bot.forwarding import Forwarder
    from supervisor.feed import FeedHub

LATENCY_BUCKETS_MS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Histogram:
    """Cumulative-bucket histogram per label value, rendered by the collector."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, label: str, value: float) -> None:
        counts = self.counts.get(label)
        if counts is None:
            counts = self.counts[label] = [0] * (len(self.buckets) + 1)
        counts[bisect_left(self.buckets, value)] += 1
        self.sums[label] = self.sums.get(label, 0.0) + value

    def total(self) -> int:
        return sum(sum(c) for c in self.counts.values())


class Metrics:
    """Everything ``/metrics`` reports. Fields are updated by the ingestor and the room manager."""

    def __init__(self) -> None:
        self.published: Counter[tuple[str, str]] = Counter()  # (runtime, topic)
        self.dropped: Counter[str] = Counter()  # reason (ingestion); the forwarder's are added at scrape
        self.violations: Counter[str] = Counter()  # kind
        self.spec_mismatch: Counter[str] = Counter()  # source: envelope | reported
        self.lines: Counter[str] = Counter()  # result: ok | garbage | invalid | refused
        self.refused: Counter[str] = Counter()  # field: runtime | origin | tenantId | assistantId | sessionId
        self.seq_gaps = 0
        self.seq_duplicates = 0
        self.spawns = 0
        self.spawn_paths: Counter[str] = Counter()  # path: template | exec
        self.restarts = 0
        self.exits: Counter[str] = Counter()  # outcome: completed | stopped | crashed | failed
        self.latency = Histogram(LATENCY_BUCKETS_MS)
        self.forwarder: Forwarder | None = None
        self.http: Callable[[], tuple[int, int, int, int]] | None = None
        """``(open connections, shed at the cap, failed accepts, malformed requests)``, once the API serves."""
        self.feeds: FeedHub | None = None
        self.room_states: Callable[[], Counter[str]] = Counter
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Collector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.m
        fwd = m.forwarder

        published = CounterMetricFamily(
            "events_published_total", "Valid envelopes ingested from bots' stdout.", labels=["runtime", "topic"]
        )
        for (runtime, topic), n in sorted(m.published.items()):
            published.add_metric([runtime, topic], n)
        yield published

        dropped = CounterMetricFamily(
            "events_dropped_total",
            "Envelopes or lines not delivered: garbage/invalid lines at ingestion; sampled, too_large, evicted, buffer_full, rejected, retry_exhausted, shutdown at forwarding.",
            labels=["reason"],
        )
        reasons: Counter[str] = Counter(m.dropped)
        if fwd is not None:
            reasons.update({k: v for k, v in fwd.stats.dropped.items() if k != "duplicate"})
        for reason, n in sorted(reasons.items()):
            dropped.add_metric([reason], n)
        yield dropped

        violations = CounterMetricFamily(
            "policy_violations_total", "conversation.policy.violation envelopes by kind.", labels=["kind"]
        )
        for kind, n in sorted(m.violations.items()):
            violations.add_metric([kind], n)
        yield violations

        mismatch = CounterMetricFamily(
            "spec_mismatch_total",
            "Envelopes with another specVersion (envelope) and events.runtime.version.mismatch envelopes (reported).",
            labels=["source"],
        )
        for source, n in sorted(m.spec_mismatch.items()):
            mismatch.add_metric([source], n)
        yield mismatch

        lines = CounterMetricFamily("ingest_lines_total", "Lines read from bots' stdout by result.", labels=["result"])
        for result, n in sorted(m.lines.items()):
            lines.add_metric([result], n)
        yield lines

        refused = CounterMetricFamily(
            "ingest_refused_total",
            "Valid envelopes refused because they claim another identity than the room's bot (by the first field that did not match).",
            labels=["field"],
        )
        for field_name, n in sorted(m.refused.items()):
            refused.add_metric([field_name], n)
        yield refused

        yield CounterMetricFamily("seq_gaps_total", "meta.seq values missing within a session.", value=m.seq_gaps)
        yield CounterMetricFamily(
            "seq_duplicates_total",
            "meta.seq values seen twice (or going back) within a session.",
            value=m.seq_duplicates,
        )

        latency = HistogramMetricFamily(
            "publish_latency_ms", "Envelope ts to ingestion by the supervisor, in ms.", labels=["topic"]
        )
        h = m.latency
        for topic in sorted(h.counts):
            counts = h.counts[topic]
            running = 0
            buckets: list[tuple[str, float]] = []
            for bound, n in zip((*(str(b) for b in h.buckets), "+Inf"), counts, strict=True):
                running += n
                buckets.append((bound, running))
            latency.add_metric([topic], buckets, h.sums[topic])
        yield latency

        yield CounterMetricFamily(
            "bot_spawns_total", "Bot processes started (first starts and restarts).", value=m.spawns
        )
        paths = CounterMetricFamily(
            "bot_spawn_paths_total",
            "Bot processes started, by how: forked from the bot template or exec'd.",
            labels=["path"],
        )
        for path, n in sorted(m.spawn_paths.items()):
            paths.add_metric([path], n)
        yield paths
        yield CounterMetricFamily(
            "bot_restarts_total", "Bot processes restarted after a crash or a spawn timeout.", value=m.restarts
        )
        exits = CounterMetricFamily("bot_exits_total", "Bot processes that ended, by outcome.", labels=["outcome"])
        for outcome, n in sorted(m.exits.items()):
            exits.add_metric([outcome], n)
        yield exits
        rooms = GaugeMetricFamily("rooms", "Rooms by status.", labels=["status"])
        for status, n in sorted(m.room_states().items()):
            rooms.add_metric([status], n)
        yield rooms
        if m.feeds is not None:
            feeds = list(m.feeds.feeds.values())
            totals = m.feeds.totals()
            yield GaugeMetricFamily(
                "live_feed_connections",
                "Open GET /rooms/{id}/events streams (browsers).",
                value=sum(len(f.subscribers) for f in feeds),
            )
            yield CounterMetricFamily(
                "live_feed_dropped_clients_total",
                "Streams ended because the client fell behind (it resumes on reconnect).",
                value=totals.dropped_subscribers,
            )
            yield CounterMetricFamily(
                "live_feed_refused_clients_total",
                "Streams refused over SUPERVISOR_FEED_MAX_CLIENTS.",
                value=totals.refused_subscribers,
            )

        if m.http is not None:
            open_, shed, accept_errors, malformed = m.http()
            yield GaugeMetricFamily("http_connections", "Open API connections.", value=open_)
            yield CounterMetricFamily(
                "http_connections_shed_total",
                "API connections closed at the connection cap (the oldest idle one, or the new one when all are busy).",
                value=shed,
            )
            yield CounterMetricFamily(
                "http_accept_errors_total", "Failed accept() calls (out of file descriptors).", value=accept_errors
            )
            yield CounterMetricFamily(
                "http_malformed_requests_total",
                "Requests aiohttp could not parse (answered 400 and closed).",
                value=malformed,
            )

        if fwd is not None:
            s = fwd.stats
            yield GaugeMetricFamily(
                "buffer_fill_ratio", "Fill of the EventBridge forwarding buffer (0..1).", value=fwd.fill_ratio
            )
            yield GaugeMetricFamily("forward_buffered_entries", "Entries waiting for EventBridge.", value=fwd.buffered)
            yield CounterMetricFamily(
                "forward_batches_total", "PutEvents requests made (or written, in dry-run).", value=s.batches
            )
            yield CounterMetricFamily(
                "forward_failed_batches_total",
                "PutEvents requests with at least one failed entry, or failed as a whole.",
                value=s.failed_batches,
            )
            entries = CounterMetricFamily(
                "forward_entries_total",
                "Entries by outcome: delivered, or retried (resent after a retryable failure).",
                labels=["outcome"],
            )
            entries.add_metric(["delivered"], s.delivered)
            entries.add_metric(["retried"], s.retried)
            yield entries
            codes = CounterMetricFamily(
                "forward_failures_total", "Failed entries by PutEvents error code.", labels=["code"]
            )
            for code, n in sorted(s.error_codes.items()):
                codes.add_metric([code], n)
            yield codes
            yield CounterMetricFamily(
                "forward_deferred_reports_total", "forwarding.delivery.deferred reports made.", value=s.reports
            )


def parse_text(text: str) -> dict[str, Any]:
    """``{"name{label=value,...}": value}`` from Prometheus text (for tests and the benchmark)."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out
