"""``python -m bot.scenarios.realspeech``: what it says when a room cannot be built (no packages
needed: these never get as far as reading a recording)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.scenarios.realspeech import __main__ as cli


def test_an_unknown_room_is_named_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["build", "no-such-room"]) == 2
    err = capsys.readouterr().err
    assert "unknown room 'no-such-room'" in err and "quiet-hello" in err


def test_plot_of_an_unknown_room_offers_sources_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plot", "no-such-room"]) == 2
    assert "'sources'" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["build", "held-back"], ["plot", "held-back"]])
def test_a_room_whose_package_is_missing_says_what_to_install(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.MISSING, "held-back", "install asterisk-prompt-xx (apt-get install asterisk-prompt-xx)")
    assert cli.main(command) == 1
    err = capsys.readouterr().err
    assert "room 'held-back' cannot be built here" in err and "asterisk-prompt-xx" in err
    assert "unknown room" not in err


def test_the_recipes_import_on_their_own() -> None:
    """recipes -> rooms is one way (rooms no longer re-exports ROOMS): either may be imported first."""
    for first in ("recipes", "rooms"):
        code = f"import bot.scenarios.realspeech.{first}; from bot.scenarios.realspeech.recipes import ROOMS; print(len(ROOMS))"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
