"""The shared RFC 8785 vectors (also run by the TypeScript tests): both runtimes must hash alike."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from codegen.hashing import canonical_json

VECTORS = Path(__file__).resolve().parents[2] / "spec" / "vectors" / "jcs.json"


def load_vectors() -> list[dict[str, Any]]:
    if not VECTORS.exists():
        return []
    return json.loads(VECTORS.read_text(encoding="utf-8"))


@pytest.mark.skipif(not VECTORS.exists(), reason=f"{VECTORS} not written yet")
def test_the_vector_file_is_well_formed() -> None:
    vectors = load_vectors()
    assert vectors, "no vectors"
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), "vector names must be unique"
    for vector in vectors:
        assert set(vector) >= {"name", "input", "canonical", "sha256"}, vector.get("name")
        assert len(vector["sha256"]) == 64 and vector["sha256"] == vector["sha256"].lower()


@pytest.mark.skipif(not VECTORS.exists(), reason=f"{VECTORS} not written yet")
@pytest.mark.parametrize("vector", load_vectors(), ids=lambda v: v.get("name", "?"))
def test_python_canonicalizes_and_hashes_each_vector(vector: dict[str, Any]) -> None:
    canonical = rfc8785.dumps(json.loads(vector["input"]))
    assert canonical == vector["canonical"].encode("utf-8")
    assert hashlib.sha256(canonical).hexdigest() == vector["sha256"]
    assert canonical_json(json.loads(vector["input"])) == canonical  # the codegen hasher is the same function
