#!/usr/bin/env bash
# The whole test suite: environment, models, then pytest (PostgreSQL tests skip when no server
# answers, except under CI=true where they must run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh export,dev
export FACEMATCH_DATA=${FACEMATCH_DATA:-$(cd .. && pwd)/shared/data}
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
