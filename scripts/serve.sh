#!/usr/bin/env bash
# Fresh machine → running service (SQLite + in-process FAISS under ./data, models under ./models).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh export
exec .venv/bin/facematch serve "$@"
