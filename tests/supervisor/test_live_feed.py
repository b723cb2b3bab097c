"""The browser live feed: GET /rooms/{id}/events (SSE), view tokens, votes into a simulated room."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from supervisor.feed import FeedItem, RoomFeed, TooManySubscribers
from supervisor.view_tokens import ViewTokens
from tests.supervisor.sup_helpers import TOKEN, finished, make_settings, python_bot, run, running

pytestmark = pytest.mark.timeout(120)


DAILY = {"roomUrl": "https://example.daily.co/room", "assistantId": "a", "tenantId": "t"}
BALANCED = "balanced"


def item(seq: int, session: str = "s-1") -> FeedItem:
    return FeedItem(session_id=session, seq=seq, data=json.dumps({"seq": seq}))


# ---------------------------------------------------------------- RoomFeed (unit)
def test_resume_gives_exactly_the_envelopes_after_the_id() -> None:
    feed = RoomFeed(backlog_size=100, queue_size=10, max_subscribers=4)
    for seq in range(1, 21):
        feed.publish(item(seq))
    sub, items, missed = feed.subscribe(after_seq=12)
    assert [i.seq for i in items] == list(range(13, 21))
    assert missed == 0
    feed.publish(item(21))
    assert sub.queue.get_nowait().seq == 21  # type: ignore[union-attr]


def test_a_resume_point_older_than_the_backlog_says_how_many_were_lost() -> None:
    feed = RoomFeed(backlog_size=5, queue_size=10, max_subscribers=4)
    for seq in range(1, 21):
        feed.publish(item(seq))
    _, items, missed = feed.subscribe(after_seq=3)
    assert [i.seq for i in items] == [16, 17, 18, 19, 20]
    assert missed == 12


def test_a_slow_subscriber_is_dropped_and_the_publisher_never_waits() -> None:
    feed = RoomFeed(backlog_size=100, queue_size=3, max_subscribers=4)
    slow, _, _ = feed.subscribe(None)
    fast, _, _ = feed.subscribe(None)
    for seq in range(1, 5):
        feed.publish(item(seq))
        while not fast.queue.empty():
            fast.queue.get_nowait()
    assert slow.overflowed.is_set() and slow not in feed.subscribers
    assert not fast.overflowed.is_set() and fast in feed.subscribers
    assert feed.stats.dropped_subscribers == 1
    assert slow.queue.qsize() == 3  # bounded: nothing was added once it was full


def test_subscribers_are_bounded_and_a_new_session_starts_a_new_backlog() -> None:
    feed = RoomFeed(backlog_size=100, queue_size=3, max_subscribers=2)
    feed.subscribe(None)
    feed.subscribe(None)
    with pytest.raises(TooManySubscribers):
        feed.subscribe(None)
    for seq in range(1, 4):
        feed.publish(item(seq, "s-1"))
    feed.publish(item(1, "s-2"))
    assert [(i.session_id, i.seq) for i in feed.backlog] == [("s-2", 1)]


def test_view_tokens_are_scoped_signed_and_expire() -> None:
    now = [1000.0]
    tokens = ViewTokens(clock=lambda: now[0])
    token, _ = tokens.issue("r-1", participant_id="p-x", ttl_secs=60)
    grant = tokens.check(token)
    assert grant is not None and grant.allows("r-1") and not grant.allows("r-2") and grant.participant_id == "p-x"
    assert ViewTokens().check(token) is None  # another supervisor's key
    head, body, mac = token.split(".")
    assert tokens.check(f"{head}.{body}.{mac[:-2]}AA") is None
    now[0] += 61
    assert tokens.check(token) is None
    assert tokens.check("") is None and tokens.check("v1.x") is None and tokens.check("v1.!!.??") is None


# ---------------------------------------------------------------- over HTTP, with stand-in bots
COUNTING_BOT = python_bot(
    "start()\n"
    "for i in range(int(os.environ.get('N', '60'))):\n"
    "    bus.publish(BotHealthHeartbeat(uptime_ms=i, published=i, dropped=0, violations=0, buffer_fill_percent=0, participants=i % 8))\n"
    "    time.sleep(float(os.environ.get('PAUSE', '0.01')))\n"
    "bus.publish(AssistantSessionEnded(reason='completed', duration_ms=1, published=1, dropped=0))\n"
)

GATED_COUNTING_BOT = python_bot(
    "start()\n"
    "sys.stdin.readline()  # the test's go, once its client is subscribed\n"
    "for i in range(int(os.environ.get('N', '60'))):\n"
    "    bus.publish(BotHealthHeartbeat(uptime_ms=i, published=i, dropped=0, violations=0, buffer_fill_percent=0, participants=i % 8))\n"
    "bus.publish(AssistantSessionEnded(reason='completed', duration_ms=1, published=1, dropped=0))\n"
)
"""Counts only once told to on stdin: a test that needs a subscriber in place first (a flood
that came and went before the client subscribed would be replayed, never overflow a queue)."""

VOTE_READING_BOT = python_bot(
    "import json\n"
    "start()\n"
    "line = sys.stdin.readline()\n"
    "msg = json.loads(line)\n"
    "ok = msg['senderId'] == 'p-viewer' and msg['message']['topic'] == 'room.vote.cast'\n"
    "bus.publish(BotHealthHeartbeat(uptime_ms=1, published=1, dropped=0, violations=0, buffer_fill_percent=0, participants=7 if ok else 0))\n"
    "bus.publish(AssistantSessionEnded(reason='completed', duration_ms=1, published=1, dropped=0))\n"
)


async def read_sse(resp: aiohttp.ClientResponse, stop_after: int | None = None) -> list[tuple[str, str | None, str]]:
    """(event, id, data) until the stream ends, or after ``stop_after`` message events."""
    events: list[tuple[str, str | None, str]] = []
    event, ident, data = "message", None, ""
    messages = 0
    async for raw in resp.content:
        line = raw.decode().rstrip("\r\n")
        if line == "":
            if data:
                events.append((event, ident, data))
                if event == "message":
                    messages += 1
                    if stop_after is not None and messages >= stop_after:
                        return events
                if event in ("end", "dropped"):
                    return events
            event, ident, data = "message", None, ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("id:"):
            ident = line[3:].strip()
        elif line.startswith("data:"):
            data += line[5:].lstrip(" ")
    return events


def seqs(events: list[tuple[str, str | None, str]]) -> list[int]:
    out = []
    for event, ident, data in events:
        if event == "message":
            assert ident == str(json.loads(data)["meta"]["seq"])  # the event id is meta.seq
            out.append(int(ident))
    return out


def settings_for(tmp_path: Path, **kw: Any) -> Any:
    return make_settings(tmp_path, allow_command=True, **kw)


def test_resume_across_a_disconnect_without_loss_or_duplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("N", "80")
    monkeypatch.setenv("PAUSE", "0.02")

    async def main() -> None:
        async with running(settings_for(tmp_path, bot_env="N,PAUSE")) as c:
            room = await c.post_room({"command": COUNTING_BOT, **DAILY})
            url = f"{c.url}/rooms/{room['id']}/events"
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with c.session.get(url, headers=auth) as resp:
                assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
                first = await read_sse(resp, stop_after=15)
            assert first[0][0] == "hello"
            got = seqs(first)
            await asyncio.sleep(0.3)  # envelopes keep coming while the page is away
            async with c.session.get(url, headers={**auth, "Last-Event-ID": str(got[-1])}) as resp:
                rest = await read_sse(resp)
            assert rest[-1][0] == "end"
            hello = json.loads(rest[0][2])
            assert hello["missed"] == 0 and hello["roomId"] == room["id"]
            total = got + seqs(rest)
            assert total == list(range(1, len(total) + 1)), "every seq exactly once, in order"
            assert len(total) == 82  # started + 80 heartbeats + ended
            # a page that connects after the end gets the whole backlog, then the end
            async with c.session.get(url, headers=auth) as resp:
                late = await read_sse(resp)
            assert seqs(late) == list(range(1, 83)) and late[-1][0] == "end"

    run(main(), 90)


def test_a_client_that_cannot_keep_up_is_dropped_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("N", "4000")

    async def main() -> None:
        async with running(settings_for(tmp_path, bot_env="N,PAUSE", feed_queue=8, feed_backlog=8000)) as c:
            room = await c.post_room({"command": GATED_COUNTING_BOT, **DAILY})
            host, port = c.url.removeprefix("http://").split(":")
            # a client with a tiny receive buffer that does not read: the server's writes back up
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            await loop.sock_connect(sock, (host, int(port)))
            request = f"GET /rooms/{room['id']}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
            await loop.sock_sendall(sock, request.encode())
            feed = c.sup.feeds.feed(room["id"])
            for _ in range(600):  # generous: the subscription must exist before the flood
                if feed.subscribers:
                    break
                await asyncio.sleep(0.05)
            assert feed.subscribers, "the stalled client subscribed"
            live = c.sup.rooms.get(room["id"])
            assert live is not None and live.process is not None
            assert await live.process.send_line(b"go\n")
            await c.wait_room(room["id"], finished, timeout=60)
            assert feed.stats.dropped_subscribers >= 1, "the stalled client was dropped"
            assert len(feed.subscribers) == 0
            metrics = await c.metrics()
            assert metrics["live_feed_dropped_clients_total"] >= 1
            assert metrics["live_feed_connections"] == 0
            data = b""
            while b"event: dropped" not in data and b"event: end" not in data:
                chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 20)
                if not chunk:
                    break
                data += chunk
            sock.close()
            assert b"event: dropped" in data
            text = data.decode(errors="replace")
            dropped = text[text.index("event: dropped") :].split("data:", 1)[1].split("\n", 1)[0]
            last = json.loads(dropped)["lastEventId"]
            assert isinstance(last, int) and last > 0
            async with c.session.get(
                f"{c.url}/rooms/{room['id']}/events",
                headers={"Authorization": f"Bearer {TOKEN}", "Last-Event-ID": str(last)},
            ) as resp:
                rest = await read_sse(resp)
            assert seqs(rest) == list(range(last + 1, 4003)) and rest[-1][0] == "end"

    run(main(), 100)


def test_auth_view_tokens_and_votes_into_the_bot(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(settings_for(tmp_path)) as c:
            room = await c.post_room({"command": VOTE_READING_BOT, **DAILY})
            other = await c.post_room({"command": COUNTING_BOT, **DAILY})
            events = f"/rooms/{room['id']}/events"
            assert (await c.request("GET", events, token=None))[0] == 401
            assert (await c.request("GET", events, token="v1.forged.token"))[0] == 401
            status, issued = await c.request(
                "POST", "/view-tokens", json={"roomId": room["id"], "participantId": "p-viewer"}
            )
            assert status == 201 and issued["viewPath"].startswith(f"/rooms/{room['id']}/view#token=")
            # a view token opens only the page routes of its room, never the API
            assert (await c.request("GET", "/rooms", token=issued["token"]))[0] == 401
            assert (await c.request("GET", f"/rooms/{other['id']}/events?token={issued['token']}", token=None))[
                0
            ] == 404
            assert (await c.request("POST", "/view-tokens", json={"roomId": "r-nope"}))[0] == 404
            assert (await c.request("POST", "/view-tokens", json={"roomId": room["id"], "ttlSecs": 0}))[0] == 422
            assert (await c.request("POST", "/view-tokens", json={"roomId": room["id"], "participantId": "a b"}))[
                0
            ] == 422
            # this stand-in bot is not a simulated room: its browsers would use Daily
            status, body = await c.request(
                "POST",
                f"/rooms/{room['id']}/messages?token={issued['token']}",
                token=None,
                json={"topic": "room.vote.cast"},
            )
            assert status == 409 and "Daily" in body["message"]

    run(main(), 60)


def test_a_vote_from_a_page_reaches_a_simulated_rooms_bot_on_stdin(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(settings_for(tmp_path)) as c:
            room = await c.post_room(
                {"command": VOTE_READING_BOT, "scenario": BALANCED, "assistantId": "a", "tenantId": "t"}
            )
            await c.wait_room(room["id"], lambda r: r["status"] == "running", timeout=30)
            status, watch = await c.request("POST", "/view-tokens", json={"roomId": room["id"]})
            path = f"/rooms/{room['id']}/messages"
            assert (await c.request("POST", f"{path}?token={watch['token']}", token=None, json={}))[0] == 403
            _, voter = await c.request("POST", "/view-tokens", json={"roomId": room["id"], "participantId": "p-viewer"})
            big = {"topic": "room.vote.cast", "payload": {"x": "y" * 5000}}
            assert (await c.request("POST", f"{path}?token={voter['token']}", token=None, json=big))[0] == 413
            status, body = await c.request(
                "POST", f"{path}?token={voter['token']}", token=None, json={"topic": "room.vote.cast", "payload": {}}
            )
            assert status == 202 and body["senderId"] == "p-viewer"
            await c.wait_room(room["id"], finished, timeout=30)
            async with c.session.get(f"{c.url}/rooms/{room['id']}/events?token={voter['token']}") as resp:
                got = await read_sse(resp)
            beats = [json.loads(d) for e, _, d in got if e == "message" and "bot.health.heartbeat" in d]
            assert beats and beats[-1]["payload"]["participants"] == 7, (
                "the bot read the vote, with the page's identity"
            )

    run(main(), 60)


def test_the_feed_counters_never_go_down_when_an_old_room_is_forgotten() -> None:
    from bot.events import SpecRegistry
    from supervisor.feed import FeedHub
    from supervisor.metrics import Metrics

    hub = FeedHub(SpecRegistry.load(), queue=1, max_subscribers=1)
    feed = hub.feed("room-1")
    feed.subscribe(None)  # a client that never reads
    with pytest.raises(TooManySubscribers):
        feed.subscribe(None)
    feed.publish(item(1))
    feed.publish(item(2))  # the slow subscriber's queue (1) overflows: dropped
    metrics = Metrics()
    metrics.feeds = hub

    def scraped(name: str) -> float:
        value = metrics.registry.get_sample_value(name)
        assert value is not None, name
        return value

    before = (scraped("live_feed_dropped_clients_total"), scraped("live_feed_refused_clients_total"))
    assert before == (1.0, 1.0)
    hub.forget("room-1")
    assert (scraped("live_feed_dropped_clients_total"), scraped("live_feed_refused_clients_total")) == before
    assert scraped("live_feed_connections") == 0.0
