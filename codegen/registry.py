"""The registry: what every runtime needs at run time, derived once from the spec.

``registry.json`` (Python) and ``registry.ts`` (TypeScript) are both renderings of this one dict.
It carries the effective forwarding of every topic (defaults and overrides applied), so runtimes
never re-implement the merge, and the normalized spec itself, so a runtime can recompute
``specVersion`` at boot and prove the generated code matches what it loaded.
"""

from __future__ import annotations

from typing import Any

from codegen.hashing import spec_version
from codegen.naming import class_name, const_name
from codegen.spec import Spec


def build_registry(spec: Spec) -> dict[str, Any]:
    """Registry dict for ``spec``; deterministic for a given spec."""
    normalized = spec.normalized()
    topics: dict[str, Any] = {}
    for topic in spec.topics:
        topics[topic["id"]] = {
            "id": topic["id"],
            "version": topic["version"],
            "description": topic["description"],
            "className": class_name(topic["id"]),
            "constName": const_name(topic["id"]),
            "origin": list(topic["origin"]),
            "pii": topic["pii"],
            "forwarding": spec.effective_forwarding(topic),
            "schema": topic["schema"],
        }
    return {
        "specVersion": spec_version(normalized),
        "destinations": spec.forwarding["destinations"],
        "piiPolicy": spec.pii,
        "topics": topics,
        "spec": normalized,
    }
