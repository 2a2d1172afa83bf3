#!/usr/bin/env bash
# The static gate, run by scripts/test.sh before pytest (so CI fails on it) and on its own:
# lint and format (ruff), types (mypy, strict on app/), and the import contracts (import-linter:
# layers api|cli -> services -> vision|index|db, nothing below the doors imports FastAPI, the
# runtime package imports no offline tool). Tools are pinned in the dev extra.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
status=0
run() {
  echo "lint: $*"
  "$@" || status=1
}
run "$bin/ruff" check .
run "$bin/ruff" format --check .
run "$bin/mypy"
run "$bin/lint-imports" --no-cache
exit "$status"
