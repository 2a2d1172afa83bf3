#!/usr/bin/env bash
# The whole test suite: environment, models, the browser for the console tests, then pytest
# (PostgreSQL and browser tests skip when unavailable, except under CI=true where they must run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh export,dev
scripts/install_browser.sh
export FACEMATCH_DATA=${FACEMATCH_DATA:-$(cd .. && pwd)/shared/data}
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
