"""The runtime image installs only `[project].dependencies`: the service must start and be ready
without torch, dlib, onnx or the weight packages, which live in the export stage only."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.helpers import REPO

EXPORT_ONLY = ("torch", "dlib", "onnx", "onnxscript", "facenet_pytorch", "face_recognition_models")

# Run in a fresh interpreter where importing any export-only module fails, as in the image.
_SCRIPT = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None
from pathlib import Path
from fastapi.testclient import TestClient
from app.cli import cli  # what the entrypoint runs: facematch migrate
from app.main import create_app
from app.settings import Settings
settings = Settings(data_dir=Path({data!r}), model_dir=Path({models!r}), admin_api_key="k" * 32)
with TestClient(create_app(settings, json_logs=False)) as client:
    ready = client.get("/readyz")
    print(ready.status_code, ready.text)
    sys.exit(0 if ready.status_code == 200 else 1)
"""


def test_runtime_dependencies_exclude_the_export_toolchain() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {
        dep.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
        for dep in project["dependencies"]
    }
    assert (
        names
        & {
            "torch",
            "dlib",
            "dlib-bin",
            "onnx",
            "onnxscript",
            "face-recognition-models",
            "facenet-pytorch",
        }
        == set()
    )


def test_service_becomes_ready_without_export_only_packages(
    models_dir: Path, tmp_path: Path
) -> None:
    script = _SCRIPT.format(blocked=EXPORT_ONLY, data=str(tmp_path), models=str(models_dir))
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
