"""``python -m bot.policy``: compose policy layers into a snapshot, check a layer or snapshot.

::

    python -m bot.policy compose platform.json tenant.json assistant.json room.json -o policy.json
    python -m bot.policy check policy.json

Errors are one line naming the file and the field (``error: tenant.json: "turns.maxTurnMs" ...``)
and exit with status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.core.errors import PolicyError, PrismError
from bot.core.text import printable
from bot.policy.compose import LAYER_KIND, load_layer, parse_layer
from bot.policy.errors import read_json
from bot.policy.model import rule_ids
from bot.policy.snapshot import SNAPSHOT_KIND, compose_snapshot, load_policy, parse_snapshot


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.policy", description="ConversationPolicy layers and snapshots (docs/policy.md)."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    comp = sub.add_parser(
        "compose", help="compose layers (platform → tenant → assistant → room) into a versioned snapshot"
    )
    comp.add_argument("layers", nargs="+", metavar="LAYER", help="layer files, base first")
    comp.add_argument("-o", "--output", required=True, metavar="FILE", help="snapshot file to write ('-' = stdout)")
    chk = sub.add_parser(
        "check", help="validate a snapshot (and verify its policyVersion), a layer, or a JSON list of layers"
    )
    chk.add_argument("file", metavar="FILE")
    return parser


def _write(path: str, data: bytes) -> None:
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".policy-", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        raise PolicyError(path, None, f"cannot write: {exc.strerror or exc}") from None


def compose_cmd(layers: Sequence[str], output: str) -> str:
    snapshot = compose_snapshot([load_layer(path) for path in layers])
    _write(output, snapshot.canonical_bytes() + b"\n")
    rules = len(rule_ids(snapshot.policy))
    return f"{output}: {snapshot.policy_version} ({rules} rules; layers {' → '.join(snapshot.layers)})"


def check_cmd(path: str) -> str:
    data = read_json(path)
    if isinstance(data, list):  # a list of layers, as the supervisor writes it: composed like the bot does
        loaded = load_policy(path)
        return f"{path}: ok, {len(data)} layers composing to {loaded.version} ({len(loaded.rules)} rules; layers {' → '.join(loaded.layers)})"
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == LAYER_KIND or (kind is None and isinstance(data, dict) and "level" in data):
        layer = parse_layer(data, path)
        sections = ", ".join(layer.sections) or "no sections"
        return f"{path}: ok, {layer.level} layer {layer.name!r} ({sections})"
    if kind != SNAPSHOT_KIND and isinstance(data, dict) and kind is not None:
        raise PolicyError(path, "kind", f'must be "{SNAPSHOT_KIND}" or "{LAYER_KIND}"')
    snapshot = parse_snapshot(data, path)
    return f"{path}: ok, {snapshot.policy_version} ({len(rule_ids(snapshot.policy))} rules; layers {' → '.join(snapshot.layers)})"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "compose":
            message = compose_cmd(args.layers, args.output)
            print(message, file=sys.stderr if args.output == "-" else sys.stdout)
        else:
            print(check_cmd(args.file))
        return 0
    except PrismError as exc:
        if args.debug:
            raise
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
