#!/usr/bin/env bash
# Lock the images' runtime dependencies: requirements/runtime.lock, exact versions with hashes.
#
# Why: both Dockerfiles install from this lock (`--require-hashes --no-deps`), so an image built
# today and one built next month hold the same packages. Regenerate after changing
# pyproject.toml's dependencies, commit the lock with that change:
#
#     scripts/lock.sh            # rewrite requirements/runtime.lock
#     scripts/lock.sh --check    # exit 1 if the lock is stale (pyproject changed since)
#
# The resolution is universal (one lock for linux/amd64 and linux/arm64, Python 3.11) by uv.
# numba, llvmlite and resampy are left out: pipecat-ai 1.14 declares them (for its resampy
# resampler) but a session never imports them (tests/session/test_lock.py runs a room with them
# blocked); they are about 213 MB of the image. scripts/check-arm64-wheels.sh checks that every
# locked package has a wheel for linux/arm64 (Pipecat Cloud's base image is arm64-only).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
LOCK=requirements/runtime.lock
EXCLUDED="numba llvmlite resampy"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.x"' EXIT
# An existing lock is passed as the output file: uv keeps its pins where they still satisfy
# pyproject.toml, so --check reports a changed requirement, not a new release on PyPI.
[[ -f "$LOCK" ]] && grep -v '^#' "$LOCK" > "$tmp"
"$UV" pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
  --no-header --no-annotate --quiet --output-file "$tmp" >/dev/null
# Drop the excluded packages (a requirement block is its "name==version \" line and the hash lines after it).
awk -v excluded="$EXCLUDED" '
  BEGIN { n = split(excluded, names, " "); for (i = 1; i <= n; i++) skip[names[i]] = 1 }
  /^[A-Za-z0-9]/ { name = tolower($1); sub(/[=<>;].*/, "", name); dropping = (name in skip) }
  !dropping { print }
' "$tmp" > "$tmp.x"
{
  echo "# Runtime dependencies of the images, locked with hashes by scripts/lock.sh (do not edit)."
  echo "# Left out on purpose (never imported by a session): $EXCLUDED."
  cat "$tmp.x"
} > "$tmp"
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -q "$tmp" "$LOCK" >/dev/null; then
    echo "$LOCK is stale: run scripts/lock.sh and commit it" >&2
    exit 1
  fi
  exit 0
fi
mv "$tmp" "$LOCK"
echo "wrote $LOCK ($(grep -c '^[A-Za-z0-9]' "$LOCK") packages)"
