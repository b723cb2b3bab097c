#!/usr/bin/env bash
# Static checks, each with a one-line header; exits non-zero when any of them finds something.
#   ruff format --check   formatting (pyproject.toml [tool.ruff])
#   ruff check            lint rules (pyproject.toml [tool.ruff.lint])
#   mypy                  types, strict: bot, supervisor, codegen, benchmarks (pyproject.toml
#                         [tool.mypy]; bot/events, bot/analytics, bot/policy included)
#   tsc --strict          the web/ TypeScript (web/tsconfig.json: strict and then some)
# Every check runs even when an earlier one fails, so one run shows everything to fix.
# Needs .venv and web/node_modules (scripts/setup.sh installs both; ./test runs it first).
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
check() {
  local name=$1
  shift
  echo "== lint: $name" >&2
  "$@" || failed+=("$name")
}

check "ruff format --check" .venv/bin/ruff format --check --quiet .
check "ruff check" .venv/bin/ruff check --quiet .
check "mypy" .venv/bin/mypy
check "tsc --strict (web)" bash -c 'cd web && node_modules/.bin/tsc --noEmit -p tsconfig.json'

if [ ${#failed[@]} -gt 0 ]; then
  echo "lint: findings in: ${failed[*]}" >&2
  exit 1
fi
