"""POST /rooms answers in the API's words, not pydantic's."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from supervisor.__main__ import os_error_line
from supervisor.rooms import RequestError, parse_request
from tests.supervisor.sup_helpers import make_settings

BASE = {"scenario": "demo", "assistantId": "a-1", "tenantId": "t-1"}


def error_of(body: dict, tmp_path: Path) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parse_request(body, make_settings(tmp_path))
    return caught.value


def test_an_unknown_field_suggests_the_closest_real_one(tmp_path: Path) -> None:
    err = error_of({**BASE, "speeed": 2}, tmp_path)
    assert (err.field, err.message) == ("speeed", "is not a field of this request; did you mean speed?")
    err = error_of({**BASE, "zzz": 1}, tmp_path)
    assert err.message.startswith("is not a field of this request (fields: ") and "scenario" in err.message


def test_pydantic_phrasing_is_not_passed_through(tmp_path: Path) -> None:
    url = error_of({"roomUrl": "ftp://x", "assistantId": "a-1", "tenantId": "t-1"}, tmp_path)
    assert url.field == "roomUrl" and url.message.startswith("must be an http(s) URL")  # not "Value error, ..."
    speed = error_of({**BASE, "speed": -1}, tmp_path)
    assert speed.message == "must be greater than or equal to 0"
    assert error_of({"scenario": "demo", "tenantId": "t-1"}, tmp_path).message == "is required"


def test_an_unwritable_dry_run_path_names_the_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, dry_run_path=Path("/proc/nope/x.jsonl"))
    exc = FileNotFoundError(errno.ENOENT, "No such file or directory", "/proc/nope")
    assert os_error_line(exc, settings) == (
        "SUPERVISOR_DRY_RUN_PATH (--dry-run-path): /proc/nope/x.jsonl: cannot write: No such file or directory (/proc/nope)"
    )
    other = OSError(errno.EADDRINUSE, "Address already in use")
    assert os_error_line(other, settings) == "Address already in use"
