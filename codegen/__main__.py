"""``python -m codegen``: generate Python and TypeScript code from ``spec/``, or check it is fresh.

Exit codes: 0 written / fresh, 1 stale (``--check``), 2 bad spec (nothing written).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from bot.config.environment_check import require_project_python

if __name__ == "__main__":  # before the imports below, which need the project's packages
    require_project_python("python -m codegen", ("jsonschema", "rfc8785"))

from codegen.python_writer import render_python
from codegen.registry import build_registry
from codegen.spec import SpecError, load_spec
from codegen.typescript import render_typescript

REPO = Path(__file__).resolve().parent.parent
WEB = REPO / "web"
VALIDATORS_SCRIPT = WEB / "scripts" / "validators.mjs"


def run_validators(*, check: bool) -> int:
    """Write (or ``check``) the browser's precompiled payload validators: Ajv's standalone code
    made from the registry just written (``web/scripts/validators.mjs``; Ajv is JavaScript, so
    Node does it). Skipped with a note when Node or ``web/node_modules`` is missing."""
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "ajv").is_dir():
        print(
            "note: web/src/client/validators.generated.ts not checked (needs node and `npm --prefix web ci`)",
            file=sys.stderr,
        )
        return 0
    cmd = [node, str(VALIDATORS_SCRIPT), *(["--check"] if check else [])]
    return subprocess.run(cmd, cwd=WEB, check=False).returncode  # it prints what it did or what is stale


def render_all(spec_dir: Path, python_out: Path, ts_out: Path) -> tuple[str, dict[Path, str]]:
    """Every generated file (path -> text) for the spec in ``spec_dir``; raises SpecError."""
    registry = build_registry(load_spec(spec_dir))
    files: dict[Path, str] = {}
    for name, text in render_python(registry).items():
        files[python_out / name] = text
    for name, text in render_typescript(registry).items():
        files[ts_out / name] = text
    return registry["specVersion"], files


def stale_files(files: dict[Path, str], out_dirs: list[Path]) -> list[Path]:
    """Files whose content differs from what the spec generates, plus extra files in the out dirs."""
    stale = [path for path, text in files.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
    for out in out_dirs:
        if out.is_dir():
            for path in sorted(out.iterdir()):
                if path.is_file() and path not in files and path.suffix in {".py", ".ts", ".json", ".txt"}:
                    stale.append(path)
    return sorted(stale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=REPO / "spec", help="spec folder (default: %(default)s)")
    parser.add_argument("--python-out", type=Path, default=REPO / "bot" / "generated", help="Python output folder")
    parser.add_argument(
        "--ts-out", type=Path, default=REPO / "web" / "src" / "generated", help="TypeScript output folder"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 and name the stale files if output is not fresh"
    )
    args = parser.parse_args(argv)

    try:
        version, files = render_all(args.spec, args.python_out, args.ts_out)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code

    def shown(path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    stale = stale_files(files, [args.python_out, args.ts_out])
    repo_output = args.ts_out.resolve() == (WEB / "src" / "generated").resolve()
    if args.check:
        if repo_output and not stale and run_validators(check=True) != 0:
            return 1
        if stale:
            print("error: generated code is stale; run `python -m codegen`:", file=sys.stderr)
            for path in stale:
                print(f"  {shown(path)}", file=sys.stderr)
            return 1
        print(f"generated code is fresh ({version})", file=sys.stderr)
        return 0

    for path in stale:
        if path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[path], encoding="utf-8")
        else:
            path.unlink()
    print(
        f"{len(stale)} file(s) written, {len(files) - len([p for p in stale if p in files])} unchanged; specVersion {version}",
        file=sys.stderr,
    )
    if repo_output:
        return 1 if run_validators(check=False) != 0 else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
