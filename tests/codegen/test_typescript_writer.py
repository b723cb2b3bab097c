"""The TypeScript writer: deterministic, names every topic, renders every schema construct right."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codegen.registry import build_registry
from codegen.spec import load_spec
from codegen.typescript import HEADER, render_typescript

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "spec"
TSC = REPO / "web" / "node_modules" / ".bin" / "tsc"

# A payload schema that uses every construct the meta-schema admits.
SYNTHETIC_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "voteId": {"type": "string", "pattern": "^[a-z]+$", "description": "Vote id; a */ in text is escaped."},
        "option": {"type": "string", "minLength": 1, "maxLength": 100, "description": "Chosen option."},
        "note": {"type": "string", "maxLength": 20, "description": "Optional, not nullable."},
        "weight": {"type": ["integer", "null"], "minimum": 0, "maximum": 10, "description": "Nullable integer."},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "kind": {"type": "string", "enum": ["single", "multi"], "description": "An enum."},
        "mood": {"type": ["string", "null"], "enum": ["up", "down", None], "description": "Nullable enum."},
        "schemaTag": {"type": "string", "const": "v1"},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 5, "uniqueItems": True},
        "ranks": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
        "counts": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0},
            "description": "A map.",
        },
        "voters": {
            "type": "array",
            "description": "Nested objects without a title.",
            "items": {
                "type": "object",
                "properties": {"participantId": {"type": "string"}, "score": {"type": ["number", "null"]}},
                "required": ["participantId"],
                "additionalProperties": False,
            },
        },
        "window": {
            "type": ["object", "null"],
            "title": "VoteWindow",
            "properties": {
                "startMs": {"type": "integer", "minimum": 0},
                "inner": {
                    "type": "object",
                    "properties": {"x-y": {"type": "string"}},
                    "required": ["x-y"],
                    "additionalProperties": False,
                },
            },
            "required": ["startMs"],
            "additionalProperties": False,
        },
        "byOption": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "required": ["n"],
                "additionalProperties": False,
            },
        },
        "empty": {"type": "object", "additionalProperties": False},
    },
    "required": ["counts", "kind", "option", "voteId", "voters", "weight", "window"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def real_registry() -> dict[str, Any]:
    return build_registry(load_spec(SPEC))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, str]]:
    spec_dir = tmp_path_factory.mktemp("spec") / "spec"
    shutil.copytree(SPEC, spec_dir)
    path = spec_dir / "topics" / "room.vote.cast.json"
    topic = json.loads(path.read_text(encoding="utf-8"))
    topic["schema"] = SYNTHETIC_SCHEMA
    path.write_text(json.dumps(topic, indent=2), encoding="utf-8")
    registry = build_registry(load_spec(spec_dir))
    return registry, render_typescript(registry)


def _interface(text: str, name: str) -> str:
    start = text.index(f"export interface {name} {{")
    return text[start : text.index("\n}\n", start) + 3]


def test_files_and_header(real_registry: dict[str, Any]) -> None:
    files = render_typescript(real_registry)
    assert sorted(files) == ["registry.ts", "spec-version.json", "topics.ts"]
    for name, text in files.items():
        assert text.endswith("\n") and not text.endswith("\n\n"), name
    assert files["topics.ts"].startswith(HEADER) and files["registry.ts"].startswith(HEADER)
    assert "Do not edit" in HEADER
    assert files["spec-version.json"] == json.dumps({"specVersion": real_registry["specVersion"]}) + "\n"
    assert f'export const SPEC_VERSION = "{real_registry["specVersion"]}" as const;' in files["topics.ts"]


def test_deterministic(real_registry: dict[str, Any]) -> None:
    first = render_typescript(real_registry)
    assert render_typescript(build_registry(load_spec(SPEC))) == first
    # Same bytes from fresh interpreters with different hash seeds (no set/dict-order leaks).
    script = (
        "import hashlib, json, sys\n"
        "from codegen.registry import build_registry\nfrom codegen.spec import load_spec\n"
        "from codegen.typescript import render_typescript\n"
        f"files = render_typescript(build_registry(load_spec({str(SPEC)!r})))\n"
        "print(hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest())\n"
    )
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, check=True
        )
        digests.add(out.stdout.strip())
    import hashlib

    assert digests == {hashlib.sha256(json.dumps(first, sort_keys=True).encode()).hexdigest()}


def test_names_every_topic(real_registry: dict[str, Any]) -> None:
    files = render_typescript(real_registry)
    topics_ts, registry_ts = files["topics.ts"], files["registry.ts"]
    for topic_id, t in real_registry["topics"].items():
        assert f'  {t["constName"]}: "{topic_id}",' in topics_ts
        assert f"export interface {t['className']}Payload {{" in topics_ts
        assert f'  "{topic_id}": {t["className"]}Payload;' in topics_ts
        assert f'    "{topic_id}": {{' in registry_ts
    assert "export type TopicId = (typeof Topic)[keyof typeof Topic];" in topics_ts
    assert "export type AnyEnvelope = { [K in TopicId]: Envelope<K> }[TopicId];" in topics_ts
    assert "export function mayPublish(id: string, runtime: Runtime): boolean {" in registry_ts
    assert "export function topicInfo<T extends TopicId>(id: T): TopicInfo<T> {" in registry_ts


def test_registry_ts_carries_runtime_data(real_registry: dict[str, Any]) -> None:
    text = render_typescript(real_registry)["registry.ts"]
    start = text.index("export const registry = ") + len("export const registry = ")
    data = json.loads(text[start : text.index(" as const satisfies RegistryShape;")])
    assert data["specVersion"] == real_registry["specVersion"]
    assert list(data["topics"]) == sorted(real_registry["topics"])
    for topic_id, entry in data["topics"].items():
        source = real_registry["topics"][topic_id]
        assert set(entry) == {"id", "version", "description", "origin", "pii", "forwarding", "schema"}
        for key in entry:
            assert entry[key] == source[key], (topic_id, key)


def test_synthetic_payload_rendering(synthetic: tuple[dict[str, Any], dict[str, str]]) -> None:
    _, files = synthetic
    text = files["topics.ts"]
    payload = _interface(text, "RoomVoteCastPayload")
    expected_fields = [
        "  voteId: string;",
        "  option: string;",
        "  note?: string;",
        "  weight: number | null;",
        "  ratio?: number;",
        '  kind: "single" | "multi";',
        '  mood?: "up" | "down" | null;',
        '  schemaTag?: "v1";',
        "  flag?: boolean;",
        "  tags?: string[];",
        '  ranks?: ("a" | "b")[];',
        "  counts: Record<string, number>;",
        "  voters: RoomVoteCastVoter[];",
        "  window: VoteWindow | null;",
        "  byOption?: Record<string, RoomVoteCastByOptionValue>;",
        "  empty?: Record<string, never>;",
    ]
    for line in expected_fields:
        assert line in payload.splitlines(), line
    # Field order is the schema's.
    positions = [payload.index(line) for line in expected_fields]
    assert positions == sorted(positions)

    assert _interface(text, "RoomVoteCastVoter").splitlines()[-3:] == [
        "  participantId: string;",
        "  score?: number | null;",
        "}",
    ]
    window = _interface(text, "VoteWindow")
    assert "  startMs: number;" in window and "  inner?: VoteWindowInner;" in window
    assert '  "x-y": string;' in _interface(text, "VoteWindowInner")
    assert "  n: number;" in _interface(text, "RoomVoteCastByOptionValue")


def test_synthetic_jsdoc(synthetic: tuple[dict[str, Any], dict[str, str]]) -> None:
    _, files = synthetic
    payload = _interface(files["topics.ts"], "RoomVoteCastPayload")
    for tag in (
        "   * Vote id; a *\\/ in text is escaped.",
        "   * @pattern ^[a-z]+$",
        "   * @minLength 1",
        "   * @maxLength 100",
        "   * @integer",
        "   * @minimum 0",
        "   * @maximum 10",
        "   * @exclusiveMinimum 0",
        "   * @exclusiveMaximum 1",
        "   * @maxItems 5",
        "   * @uniqueItems",
        "   * @items maxLength 8",
        "   * @values integer, minimum 0",
    ):
        assert tag in payload.splitlines(), tag
    assert "a */ in" not in files["topics.ts"]
    assert "Payload of topic `room.vote.cast` (version 1); published by browser; PII level 3." in files["topics.ts"]


@pytest.mark.skipif(not TSC.exists(), reason="web/node_modules is not installed (cd web && npm install)")
def test_synthetic_output_type_checks(synthetic: tuple[dict[str, Any], dict[str, str]], tmp_path: Path) -> None:
    _, files = synthetic
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "package.json").write_text('{"type": "module"}\n', encoding="utf-8")
    (tmp_path / "use.ts").write_text(
        'import type { RoomVoteCastPayload } from "./topics.js";\n'
        'import { mayPublish } from "./registry.js";\n'
        'const p: RoomVoteCastPayload = { voteId: "a", option: "b", weight: null, kind: "multi", counts: {},\n'
        '  voters: [{ participantId: "x" }], window: { startMs: 0, inner: { "x-y": "z" } } };\n'
        'export const ok: boolean = mayPublish("room.vote.cast", "browser") && p.kind === "multi";\n',
        encoding="utf-8",
    )
    args = [
        str(TSC), "--noEmit", "--strict", "--noUncheckedIndexedAccess", "--target", "es2022",
        "--module", "nodenext", "--moduleResolution", "nodenext", "--verbatimModuleSyntax",
        "topics.ts", "registry.ts", "use.ts",
    ]  # fmt: skip
    result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
