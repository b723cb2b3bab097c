"""The real sink's mapping of boto3 answers and errors to per-entry results and SendFailed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from fwd_helpers import run

from bot.forwarding import EventBridgeSink, SendFailed

ENTRIES = [{"Source": "s", "DetailType": "d", "Detail": "{}"} for _ in range(3)]


class FakeClient:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_per_entry_results_are_index_aligned() -> None:
    client = FakeClient(
        {
            "FailedEntryCount": 2,
            "Entries": [
                {"EventId": "1"},
                {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"},
                {"ErrorCode": "MalformedDetail"},
            ],
        }
    )
    assert run(EventBridgeSink(client=client).send(ENTRIES)) == [None, "ThrottlingException", "MalformedDetail"]
    assert client.calls == [ENTRIES]


def test_a_short_answer_counts_the_missing_entries_as_retryable() -> None:
    client = FakeClient({"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]})
    assert run(EventBridgeSink(client=client).send(ENTRIES)) == [None, "InternalFailure", "InternalFailure"]


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (
            ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents"),
            "ThrottlingException",
            True,
        ),
        (ClientError({"Error": {"Code": "InternalFailure", "Message": "oops"}}, "PutEvents"), "InternalFailure", True),
        (
            ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no bus"}}, "PutEvents"),
            "ResourceNotFoundException",
            False,
        ),
        (
            ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutEvents"),
            "AccessDeniedException",
            False,
        ),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "EndpointConnectionError", True),
        (NoCredentialsError(), "NoCredentialsError", False),
    ],
    ids=["throttled", "internal", "no-bus", "denied", "unreachable", "no-credentials"],
)
def test_whole_call_errors_say_whether_to_retry(error: Exception, code: str, retryable: bool) -> None:
    with pytest.raises(SendFailed) as info:
        run(EventBridgeSink(client=FakeClient(error)).send(ENTRIES))
    assert (info.value.code, info.value.retryable) == (code, retryable)


def test_boto3_is_not_imported_until_the_first_send() -> None:
    import subprocess

    code = "import sys; from bot.forwarding import EventBridgeSink, Forwarder; EventBridgeSink(region='us-east-1'); print(any(m.startswith(('boto3', 'botocore', 'pipecat')) for m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "False", out.stderr
