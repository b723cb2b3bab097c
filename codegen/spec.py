"""Load, validate and normalize the event spec in ``spec/``.

Everything a bad spec can get wrong is caught here, before a single file is written, and reported
as a :class:`SpecError` that names the file and the JSON pointer inside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

DESTINATIONS = ("stdout", "app_message", "eventbridge")


class SpecError(Exception):
    """A problem in the spec: which file, where in it (a JSON pointer), and what is wrong."""

    exit_code = 2

    def __init__(self, file: Path | str, pointer: str, message: str) -> None:
        self.file = str(file)
        self.pointer = pointer
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" at {self.pointer}" if self.pointer else ""
        return f"{self.file}{where}: {self.message}"


@dataclass(frozen=True)
class Spec:
    """The parsed spec: topic descriptors sorted by id plus the two config files."""

    root: Path
    topics: list[dict[str, Any]]
    forwarding: dict[str, Any]
    pii: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)

    def normalized(self) -> dict[str, Any]:
        """The object whose RFC 8785 form is hashed into ``specVersion``.

        Every descriptor exactly as written (sorted by id), plus ``config/forwarding.json`` and
        ``config/pii.json``. Nothing is derived or defaulted here, so any runtime can recompute the
        hash from the files with nothing but a JCS implementation and SHA-256.
        """
        return {"topics": self.topics, "forwarding": self.forwarding, "pii": self.pii}

    def effective_forwarding(self, topic: dict[str, Any]) -> dict[str, Any]:
        """Forwarding in force for ``topic``: config defaults, then the descriptor, then overrides."""
        merged: dict[str, Any] = dict(self.forwarding["defaults"])
        own = topic.get("forwarding", {})
        for key in ("destinations", "priority", "sampleRate"):
            if key in own:
                merged[key] = own[key]
        merged.update(self.forwarding["overrides"].get(topic["id"], {}))
        merged["redact"] = list(own.get("redact", []))
        merged["destinations"] = list(merged["destinations"])
        return merged


def pointer(parts: Iterable[Any]) -> str:
    """A JSON pointer (RFC 6901) from path parts."""
    out = ""
    for part in parts:
        out += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return out


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SpecError(path, "", "file is not UTF-8") from None

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                seen = _Duplicated(seen)
                seen.duplicate = key
            seen[key] = value
        return seen

    try:
        value = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise SpecError(path, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    _raise_on_duplicate(value, path, [])
    return value


class _Duplicated(dict[str, Any]):
    """An object that had a key twice (``duplicate``); found after parsing so the error has a pointer."""

    duplicate: str


def _raise_on_duplicate(node: Any, file: Path, at: list[Any]) -> None:
    if isinstance(node, _Duplicated):
        raise SpecError(file, pointer([*at, node.duplicate]), f"duplicate key {node.duplicate!r} in one object")
    if isinstance(node, dict):
        for key, child in node.items():
            _raise_on_duplicate(child, file, [*at, key])
    elif isinstance(node, list):
        for i, child in enumerate(node):
            _raise_on_duplicate(child, file, [*at, i])


def _meta_validator(root: Path, name: str) -> Draft202012Validator:
    """The meta-schema ``spec/meta/<name>.schema.json`` that validates the spec's own files."""
    schema = _read_json(root / "meta" / f"{name}.schema.json")
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _check_against(validator: Draft202012Validator, instance: Any, path: Path) -> None:
    error = best_match(validator.iter_errors(instance))
    if error is not None:
        raise SpecError(path, pointer(error.absolute_path), _describe(error))


def _describe(error: ValidationError) -> str:
    message = error.message
    if len(message) > 240:
        message = message[:237] + "..."
    return message


def _schema_nodes_at(
    schema: dict[str, Any], parts: list[str]
) -> list[tuple[dict[str, Any], dict[str, Any] | None, str | None]]:
    """Walk a payload schema along pointer ``parts``; '*' steps into array items or map values.

    Returns the nodes reached with their parent object node and the property name, or [] when the
    path leaves the schema.
    """
    node: dict[str, Any] = schema
    parent: dict[str, Any] | None = None
    name: str | None = None
    for part in parts:
        types = node.get("type")
        types = types if isinstance(types, list) else [types]
        if part == "*":
            if "array" in types:
                parent, name, node = None, None, node.get("items", {})
            elif "object" in types and isinstance(node.get("additionalProperties"), dict):
                parent, name, node = None, None, node["additionalProperties"]
            else:
                return []
        else:
            props = node.get("properties") if "object" in types else None
            if not props or part not in props:
                return []
            parent, name, node = node, part, props[part]
    return [(node, parent, name)]


def _check_payload_path(
    path_text: str, schema: dict[str, Any], file: Path, where: str
) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    parts = path_text.split("/")[2:]  # drop "" and "payload"
    found = _schema_nodes_at(schema, parts)
    if not found:
        raise SpecError(file, where, f"{path_text!r} is outside the payload: no such field in the topic's schema")
    return found[0]


def _types_of(node: dict[str, Any]) -> set[str]:
    t = node.get("type")
    if isinstance(t, list):
        return set(t)
    return {t} if isinstance(t, str) else set()  # no "type": no type is known


def load_spec(root: Path | str) -> Spec:
    """Read ``root`` (the ``spec/`` folder), validate everything, and return the :class:`Spec`.

    Raises :class:`SpecError` on the first problem found.
    """
    root = Path(root)
    topics_dir = root / "topics"
    if not topics_dir.is_dir():
        raise SpecError(topics_dir, "", "spec folder has no topics/ directory")

    topic_meta = _meta_validator(root, "topic")
    paths = sorted(topics_dir.glob("*.json"))
    if not paths:
        raise SpecError(topics_dir, "", "no topic descriptors (*.json) found")

    descriptors: list[tuple[Path, dict[str, Any]]] = []
    for path in paths:
        data = _read_json(path)
        _check_against(topic_meta, data, path)
        try:
            Draft202012Validator.check_schema(data["schema"])
        except SchemaError as exc:
            raise SpecError(
                path, pointer(["schema", *exc.absolute_path]), f"invalid JSON Schema: {exc.message}"
            ) from None
        descriptors.append((path, data))

    by_id: dict[str, Path] = {}
    for path, data in descriptors:
        if data["id"] in by_id:
            raise SpecError(path, "/id", f"duplicate topic id {data['id']!r} (also defined in {by_id[data['id']]})")
        by_id[data["id"]] = path
    for path, data in descriptors:
        if path.name != f"{data['id']}.json":
            raise SpecError(path, "/id", f"file name must be the topic id: expected {data['id']}.json")

    forwarding_path = root / "config" / "forwarding.json"
    pii_path = root / "config" / "pii.json"
    forwarding = _read_json(forwarding_path)
    _check_against(_meta_validator(root, "forwarding"), forwarding, forwarding_path)
    pii = _read_json(pii_path)
    _check_against(_meta_validator(root, "pii"), pii, pii_path)
    for topic_id in forwarding["overrides"]:
        if topic_id not in by_id:
            raise SpecError(
                forwarding_path, pointer(["overrides", topic_id]), f"override for unknown topic {topic_id!r}"
            )

    topics = sorted((data for _, data in descriptors), key=lambda d: d["id"])
    spec = Spec(root=root, topics=topics, forwarding=forwarding, pii=pii, files=by_id)
    for topic in topics:
        _check_semantics(spec, topic, by_id[topic["id"]])
    return spec


def _check_semantics(spec: Spec, topic: dict[str, Any], file: Path) -> None:
    """Rules a JSON Schema cannot express: required fields exist, paths resolve, redaction is safe."""
    schema = topic["schema"]
    _check_required_exist(schema, file, ["schema"])
    for where, pattern in _patterns(schema, ["schema"]):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SpecError(file, where, f"invalid regular expression: {exc}") from None

    effective = spec.effective_forwarding(topic)
    destinations = set(effective["destinations"])

    for i, path_text in enumerate(topic["pii"]["fields"]):
        _check_payload_path(path_text, schema, file, f"/pii/fields/{i}")

    explicit: dict[str, set[str]] = {d: set() for d in DESTINATIONS}
    for i, rule in enumerate(effective["redact"]):
        where = f"/forwarding/redact/{i}"
        node, parent, name = _check_payload_path(rule["path"], schema, file, f"{where}/path")
        for dest in rule["destinations"]:
            if dest not in destinations:
                raise SpecError(
                    file, f"{where}/destinations", f"redact rule for {dest!r}, but the topic is not forwarded there"
                )
            explicit[dest].add(rule["path"])
        _check_action(rule["action"], node, parent, name, file, where, rule["path"])

    level = topic["pii"]["level"]
    for dest in sorted(destinations):
        policy = spec.pii["destinations"][dest]
        if level <= policy["maxLevel"]:
            continue
        for i, path_text in enumerate(topic["pii"]["fields"]):
            if path_text in explicit[dest]:
                continue
            node, parent, name = _check_payload_path(path_text, schema, file, f"/pii/fields/{i}")
            try:
                _check_action(policy["action"], node, parent, name, file, f"/pii/fields/{i}", path_text)
            except SpecError as exc:
                raise SpecError(
                    file,
                    f"/pii/fields/{i}",
                    f"PII level {level} is above {dest}'s maxLevel {policy['maxLevel']}, so the default "
                    f"{policy['action']!r} applies, but {exc.message}; add an explicit redact rule for {dest}",
                ) from None


def _check_action(
    action: str,
    node: dict[str, Any],
    parent: dict[str, Any] | None,
    name: str | None,
    file: Path,
    where: str,
    path_text: str,
) -> None:
    if action == "drop":
        if parent is None or name is None:
            raise SpecError(file, where, f"cannot drop {path_text!r}: only object properties can be dropped")
        if name in parent.get("required", []):
            raise SpecError(file, where, f"{path_text!r} is required, so dropping it would make the copy invalid")
    elif action == "hash" and "object" in _types_of(node) and isinstance(node.get("additionalProperties"), dict):
        return  # a map whose keys are data (a vote's tally by option): its keys are hashed
    else:
        if "string" not in _types_of(node):
            raise SpecError(
                file,
                where,
                f"cannot {action} {path_text!r}: only string fields can be masked or hashed (and maps' keys hashed)",
            )


def _check_required_exist(node: dict[str, Any], file: Path, at: list[Any]) -> None:
    props = node.get("properties", {})
    for i, name in enumerate(node.get("required", [])):
        if name not in props:
            raise SpecError(file, pointer([*at, "required", i]), f"required field {name!r} is not in properties")
    for name, child in props.items():
        _check_required_exist(child, file, [*at, "properties", name])
    if isinstance(node.get("items"), dict):
        _check_required_exist(node["items"], file, [*at, "items"])
    if isinstance(node.get("additionalProperties"), dict):
        _check_required_exist(node["additionalProperties"], file, [*at, "additionalProperties"])


def _patterns(node: dict[str, Any], at: list[Any]) -> Iterable[tuple[str, str]]:
    if "pattern" in node:
        yield pointer([*at, "pattern"]), node["pattern"]
    for name, child in node.get("properties", {}).items():
        yield from _patterns(child, [*at, "properties", name])
    if isinstance(node.get("items"), dict):
        yield from _patterns(node["items"], [*at, "items"])
    if isinstance(node.get("additionalProperties"), dict):
        yield from _patterns(node["additionalProperties"], [*at, "additionalProperties"])
