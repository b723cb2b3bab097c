"""The supervisor's log masks every secret it knows, a bot's relayed stderr included, and escapes
what would drive the terminal: one patcher (bot.config.secrets.log_patcher) for every record."""

from __future__ import annotations

import io

import pytest
from loguru import logger
from pydantic import SecretStr

from supervisor.app import configure_logging
from supervisor.logbudget import LOG_SECRETS

ROOM_TOKEN = "eyJhbGciOi.room-token-0123456789"


def test_a_rooms_token_and_the_supervisors_secrets_never_reach_its_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MESH_API_TOKEN", "mesh-secret-0123456789")
    configure_logging("INFO", SecretStr("supervisor-token-0123456789"))
    sink = io.StringIO()
    logger.add(sink, format="{message}")
    LOG_SECRETS.add(ROOM_TOKEN)  # as RoomManager.create does for a room with roomToken
    try:
        logger.bind(room="r-1").info(f"bot: Traceback ... DAILY_TOKEN={ROOM_TOKEN} \x1b]52;c;aGk=\x07")
        logger.info("mesh said mesh-secret-0123456789; token supervisor-token-0123456789")
        LOG_SECRETS.discard(ROOM_TOKEN)  # the room is over: the scrubber does not grow with every room
        out = sink.getvalue()
        assert ROOM_TOKEN not in out and "mesh-secret" not in out and "supervisor-token" not in out
        assert "\x1b" not in out and "\\x1b" in out
    finally:
        logger.remove()
        LOG_SECRETS.discard("mesh-secret-0123456789", "supervisor-token-0123456789")
