#!/usr/bin/env bash
# Check that every package in requirements/runtime.lock has a wheel for linux/arm64 (CPython 3.11),
# the platform of Pipecat Cloud's base image, by asking pip to download exactly those wheels into
# a temporary folder (nothing is installed; the folder is removed). Exit 1 names the packages
# without one. Needs PyPI; downloads about 150 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
platforms=(manylinux2014_aarch64 manylinux_2_28_aarch64 manylinux_2_31_aarch64 manylinux_2_34_aarch64 manylinux_2_36_aarch64)
args=()
for p in "${platforms[@]}"; do args+=(--platform "$p"); done
missing=()
# One package at a time, so a missing wheel names its package; environment markers decide
# which lines apply to Linux on CPython 3.11.
while read -r req; do
  if ! "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 --implementation cp \
      "${args[@]}" --dest "$dir" "$req" >/dev/null 2>&1; then
    missing+=("$req")
  fi
done < <("$PY" - <<'PYEOF'
import re
from packaging.markers import Marker
env = {"python_version": "3.11", "python_full_version": "3.11.12", "sys_platform": "linux", "platform_system": "Linux",
       "platform_machine": "aarch64", "implementation_name": "cpython", "platform_python_implementation": "CPython",
       "os_name": "posix"}
for line in open("requirements/runtime.lock"):
    if not re.match(r"[A-Za-z0-9]", line):
        continue
    spec = line.rstrip(" \\\n")
    req, _, marker = spec.partition(";")
    if marker.strip() and not Marker(marker.strip()).evaluate(env):
        continue
    print(req.strip())
PYEOF
)
# A package published only as a source archive is fine when it builds to a pure-Python wheel
# (py3-none-any): that wheel installs on any platform. Build it here to find out.
native=()
pure=()
for req in "${missing[@]}"; do
  if "$PY" -m pip wheel --quiet --no-deps --no-binary=:all: --wheel-dir "$dir/sdist" "$req" >/dev/null 2>&1 \
      && ls "$dir/sdist" | grep -q -- '-none-any.whl$'; then
    pure+=("$req")
  else
    native+=("$req")
  fi
  rm -rf "$dir/sdist"
done
count=$(ls "$dir" | grep -c '\.whl$' || true)
if ((${#native[@]})); then
  echo "no linux/arm64 wheel for: ${native[*]}" >&2
  exit 1
fi
echo "every locked package installs on linux/arm64: $count wheels downloaded for it"
if ((${#pure[@]})); then echo "  source only, builds to a pure-Python wheel: ${pure[*]}"; fi
echo "  platform wheels:"
ls "$dir" | grep '\.whl$' | grep -v -- '-none-any.whl$' | sed 's/^/    /'
