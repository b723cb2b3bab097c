#!/usr/bin/env bash
# Idempotent set-up: a .venv with the project (and its dev extras) and web/node_modules.
# Re-runs the installs only when pyproject.toml or web/package-lock.json changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin="$candidate"; break; fi
  done
fi
if [ -z "$python_bin" ]; then echo "setup: Python 3.11+ not found (set PYTHON=...)" >&2; exit 1; fi
"$python_bin" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "setup: $python_bin is older than Python 3.11" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "setup: npm (Node 20) not found" >&2; exit 1; }

stamp_py=.venv/.prism-setup
want_py=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $python_bin" >&2
  "$python_bin" -m venv .venv
fi
if [ "$(cat "$stamp_py" 2>/dev/null || true)" != "$want_py" ]; then
  echo "setup: installing Python dependencies (first run takes a minute)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"  # setuptools warns about editable installs in general
  echo "$want_py" > "$stamp_py"
fi

stamp_web=web/node_modules/.prism-setup
want_web=$(cat web/package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp_web" 2>/dev/null || true)" != "$want_web" ]; then
  echo "setup: installing web dependencies" >&2
  (cd web && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want_web" > "$stamp_web"
fi

# the browser bundle the supervisor serves (web/dist-browser, git-ignored): rebuilt when its inputs change
stamp_bundle=web/dist-browser/.prism-setup
want_bundle=$(cat web/package-lock.json web/scripts/bundle.mjs $(find web/src -type f | sort) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp_bundle" 2>/dev/null || true)" != "$want_bundle" ]; then
  echo "setup: building the dashboard bundle" >&2
  (cd web && npm run --silent bundle >&2)
  echo "$want_bundle" > "$stamp_bundle"
fi
