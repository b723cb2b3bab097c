"""Where batches go: a dry-run JSON-lines log, or EventBridge ``PutEvents`` through boto3.

A sink's ``send(entries)`` returns one result per entry, index-aligned with the request as
PutEvents' response is: ``None`` when the entry was accepted, else its error code. A failure of the
whole call raises :class:`SendFailed` with a code and whether resending may help.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from bot.forwarding.entries import DEFAULT_MAX_BYTES, entry_size, rfc3339_ms

CALL_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalFailure",
        "InternalException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
"""Whole-call error codes worth retrying (boto3's own retries come first)."""


class SendFailed(Exception):
    """The whole call failed: no entry was accepted (as far as the caller can tell)."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


class Sink(Protocol):
    """Something that takes PutEvents entry lists."""

    name: str

    async def send(self, entries: list[dict[str, Any]]) -> list[str | None]: ...

    async def close(self) -> None: ...


class DryRunSink:
    """Writes each PutEvents request as one JSON line instead of calling AWS.

    The line is ``{"request": {"Entries": [...]}, "entrySizes": [...], "totalSize": n,
    "sizeLimit": n, "writtenAt": "..."}``: ``request`` is exactly what ``put_events(**request)``
    would get. ``bot.forwarding.dryrun_check`` validates such a file against the PutEvents rules.
    """

    name = "dry-run"

    def __init__(
        self, target: str | Path | IO[bytes] | IO[str] | None = None, *, size_limit: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.size_limit = size_limit
        self._owned = False
        self._lock = threading.Lock()
        self.requests = 0
        self.entries = 0
        if target is None or target == "-":
            self._stream: Any = sys.stderr
        elif isinstance(target, (str, Path)):
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(path, "ab", buffering=0)
            self._owned = True
        else:
            self._stream = target
        self._binary = not hasattr(self._stream, "encoding")

    def line(self, entries: list[dict[str, Any]]) -> bytes:
        sizes = [entry_size(e) for e in entries]
        record = {
            "request": {"Entries": entries},
            "entrySizes": sizes,
            "totalSize": sum(sizes),
            "sizeLimit": self.size_limit,
            "writtenAt": rfc3339_ms(int(time.time() * 1000)),
        }
        return orjson.dumps(record) + b"\n"

    async def send(self, entries: list[dict[str, Any]]) -> list[str | None]:
        data = self.line(entries)
        with self._lock:
            if self._binary:
                self._stream.write(data)
            else:
                self._stream.write(data.decode("utf-8"))
            flush = getattr(self._stream, "flush", None)
            if flush is not None:
                flush()
            self.requests += 1
            self.entries += len(entries)
        return [None] * len(entries)

    async def close(self) -> None:
        if self._owned:
            self._stream.close()


class EventBridgeSink:
    """``PutEvents`` through boto3, run in a worker thread (boto3 is blocking).

    Credentials and region come from the normal AWS chain (environment, shared config, instance or
    task role) unless given. ``endpoint_url`` points it elsewhere (a local moto server in tests).
    boto3 itself retries whole-call throttling (standard mode, 3 attempts); per-entry failures are
    returned for the forwarder to resend.
    """

    name = "eventbridge"

    def __init__(
        self,
        *,
        client: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 10.0,
    ) -> None:
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 ``events`` client, created on first use (boto3 costs ~150 ms to import)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3
                    from botocore.config import Config

                    config = Config(
                        retries={"mode": "standard", "max_attempts": 3},
                        connect_timeout=self._connect_timeout_s,
                        read_timeout=self._read_timeout_s,
                        user_agent_extra="prism-room-bot",
                    )
                    self._client = boto3.client(
                        "events",
                        region_name=self._region
                        or os.environ.get("AWS_REGION")
                        or os.environ.get("AWS_DEFAULT_REGION"),
                        endpoint_url=self._endpoint_url,
                        config=config,
                    )
        return self._client

    def _put(self, entries: list[dict[str, Any]]) -> list[str | None]:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            NoRegionError,
            ParamValidationError,
        )

        try:
            response = self.client.put_events(Entries=entries)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "ClientError")
            raise SendFailed(code, str(error.get("Message") or exc), retryable=code in CALL_RETRYABLE_CODES) from None
        except (NoCredentialsError, NoRegionError, ParamValidationError) as exc:
            raise SendFailed(type(exc).__name__, str(exc), retryable=False) from None
        except BotoCoreError as exc:  # connection refused, timeouts, …: the call may be retried
            raise SendFailed(type(exc).__name__, str(exc), retryable=True) from None
        results = response.get("Entries") or []
        out: list[str | None] = []
        for i in range(len(entries)):
            result = results[i] if i < len(results) else {"ErrorCode": "InternalFailure"}
            out.append(
                None
                if result.get("EventId") and not result.get("ErrorCode")
                else str(result.get("ErrorCode") or "InternalFailure")
            )
        return out

    async def send(self, entries: list[dict[str, Any]]) -> list[str | None]:
        return await asyncio.to_thread(self._put, entries)

    async def close(self) -> None:
        client = self._client
        if client is not None and hasattr(client, "close"):
            await asyncio.to_thread(client.close)
