"""Boot-time proof that the runtime speaks the spec it was generated from (seed design section 4).

The runtime recomputes ``specVersion`` from the spec it loaded (the ``spec`` section of
``registry.json``) and, in a source checkout, from the ``spec/`` files themselves, and compares
both with the version compiled into the generated models. A mismatch is published as
``events.runtime.version.mismatch``; a setting decides whether the runtime then still forwards
to external destinations (the default) or refuses to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785

from bot.events.registry import SpecRegistry
from bot.generated import SPEC_VERSION

REPO_SPEC_DIR = Path(__file__).resolve().parent.parent.parent / "spec"


def hash_normalized(normalized: Any) -> str:
    return "sha256:" + hashlib.sha256(rfc8785.dumps(normalized)).hexdigest()


def normalized_from_files(spec_dir: Path) -> dict[str, Any]:
    """The normalized spec read straight from ``spec_dir`` (topics sorted by id, plus config)."""
    topics = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((spec_dir / "topics").glob("*.json"))]
    topics.sort(key=lambda t: t["id"])
    return {
        "topics": topics,
        "forwarding": json.loads((spec_dir / "config" / "forwarding.json").read_text(encoding="utf-8")),
        "pii": json.loads((spec_dir / "config" / "pii.json").read_text(encoding="utf-8")),
    }


@dataclass(frozen=True)
class SpecCheck:
    """Outcome of the boot check: ``remote`` is the differing version when ``ok`` is False."""

    generated: str
    loaded: str
    ok: bool
    remote: str | None = None
    source: str = "boot"
    detail: str = ""


def check_spec(registry: SpecRegistry, spec_dir: Path | None = None) -> SpecCheck:
    """Compare the generated version with the loaded registry and, if present, the spec files."""
    loaded = hash_normalized(registry.raw["spec"])
    if loaded != SPEC_VERSION or registry.spec_version != SPEC_VERSION:
        return SpecCheck(
            SPEC_VERSION, loaded, False, remote=loaded, detail="registry.json does not match the generated models"
        )
    directory = spec_dir if spec_dir is not None else (REPO_SPEC_DIR if (REPO_SPEC_DIR / "topics").is_dir() else None)
    if directory is not None:
        try:
            on_disk = hash_normalized(normalized_from_files(directory))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return SpecCheck(SPEC_VERSION, loaded, True, detail=f"spec files at {directory} not readable: {exc}")
        if on_disk != SPEC_VERSION:
            return SpecCheck(
                SPEC_VERSION, loaded, False, remote=on_disk, detail=f"{directory} changed since `python -m codegen` ran"
            )
    return SpecCheck(SPEC_VERSION, loaded, True)
