"""``specVersion``: the SHA-256 of the RFC 8785 (JCS) form of the normalized spec."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON (UTF-8 bytes)."""
    return rfc8785.dumps(value)


def spec_version(normalized: Any) -> str:
    """``"sha256:" + hex(sha256(JCS(normalized)))``, the contract id both runtimes compute."""
    return "sha256:" + hashlib.sha256(canonical_json(normalized)).hexdigest()
