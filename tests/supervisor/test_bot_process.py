"""A bot process gets an allow-listed environment, and its stdout is read line by line."""

from __future__ import annotations

import asyncio

from sup_helpers import REPO, run

from supervisor.ingest import TOO_LONG
from supervisor.process import bot_command, bot_environment, read_lines


def test_the_bot_gets_only_allow_listed_variables() -> None:
    source = {
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        "LANG": "C.UTF-8",
        "MESH_API_TOKEN": "mesh",
        "OPENAI_API_KEY": "sk",
        "DAILY_API_KEY": "daily",
        "SUPERVISOR_TOKEN": "leak",
        "AWS_SECRET_ACCESS_KEY": "leak",
        "AWS_ACCESS_KEY_ID": "leak",
        "GITHUB_TOKEN": "leak",
        "BOT_SPEED": "leak",
        "ROOM_URL": "https://leak.daily.co/other",
        "MY_EXTRA": "extra",
    }
    env = bot_environment(
        source=source,
        room_env={"ASSISTANT_ID": "a1", "ROOM_URL": "https://x.daily.co/r"},
        extra_names=["MY_EXTRA"],
        fallback={"MESH_URL": "https://mesh"},
    )
    assert "leak" not in env.values()
    assert {
        k: env[k]
        for k in (
            "PATH",
            "HOME",
            "MESH_API_TOKEN",
            "OPENAI_API_KEY",
            "DAILY_API_KEY",
            "MY_EXTRA",
            "MESH_URL",
            "ASSISTANT_ID",
            "ROOM_URL",
        )
    } == {
        "PATH": "/usr/bin",
        "HOME": "/home/x",
        "MESH_API_TOKEN": "mesh",
        "OPENAI_API_KEY": "sk",
        "DAILY_API_KEY": "daily",
        "MY_EXTRA": "extra",
        "MESH_URL": "https://mesh",
        "ASSISTANT_ID": "a1",
        "ROOM_URL": "https://x.daily.co/r",
    }
    assert env["PYTHONPATH"].split(":")[0] == str(REPO) and env["PYTHONUNBUFFERED"] == "1"


def test_the_bot_command_plays_a_scenario_without_the_live_view() -> None:
    cmd = bot_command(scenario="/s/dominant.json", speed=0)
    assert cmd[1:] == ["-m", "bot", "--view", "off", "--simulate", "/s/dominant.json", "--speed", "0"]
    assert bot_command(scenario=None, speed=None)[1:] == ["-m", "bot", "--view", "off"]


def test_an_overlong_line_is_skipped_and_reading_goes_on() -> None:
    async def go() -> list[bytes]:
        reader = asyncio.StreamReader(limit=64)
        reader.feed_data(b"first\n" + b"x" * 500 + b"\nsecond\nlast-without-newline")
        reader.feed_eof()
        return [line async for line in read_lines(reader)]

    assert run(go()) == [b"first", TOO_LONG, b"second", b"last-without-newline"]
