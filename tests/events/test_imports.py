"""The event runtime starts fast: importing it pulls in no Pipecat, Daily or OpenAI code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = (
    "import bot.events, sys; "
    "heavy = sorted(m for m in sys.modules if m.startswith(('pipecat', 'daily', 'openai'))); "
    "assert not heavy, heavy"
)


def test_bot_events_imports_no_pipecat_daily_or_openai() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_lazy_names_are_all_exported_and_resolve() -> None:
    """``__all__`` is spelled out for the linters; it must list exactly the lazily loaded names."""
    import bot.events as events

    assert sorted(events.__all__) == sorted(events._WHERE)
    for name in events.__all__:
        assert getattr(events, name) is not None
