"""docker/smoke.sh: the image and the compose services proven by running them.

Builds the image (minutes: a torch install and the model export), so it runs only when asked
(FACEMATCH_SMOKE=1) and when a Docker daemon answers; CI has no daemon. Where no image registry is
reachable, FACEMATCH_SMOKE_STANDIN=1 builds stand-in base images from Debian packages first
(docker/standin/build.sh). A full passing run's log is in the notes of issue 16.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.helpers import DOCKER, REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _daemon_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    result = subprocess.run([docker, "info"], capture_output=True, timeout=30, check=False)
    return result.returncode == 0


def test_smoke_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck") or str(REPO / ".venv" / "bin" / "shellcheck")
    for script in (DOCKER / "smoke.sh", DOCKER / "standin" / "build.sh"):
        result = subprocess.run(
            [shellcheck, str(script)], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_smoke_run_builds_starts_replicas_and_keeps_data_across_restarts() -> None:
    if os.environ.get("FACEMATCH_SMOKE") != "1":
        pytest.skip("the smoke run builds the image (minutes): set FACEMATCH_SMOKE=1 to run it")
    if not _daemon_answers():
        pytest.skip("no Docker daemon answers (`docker info` fails)")
    env = dict(os.environ)
    if os.environ.get("FACEMATCH_SMOKE_STANDIN") == "1":
        env["SMOKE_STANDIN"] = "1"
    result = subprocess.run(
        [str(DOCKER / "smoke.sh")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    assert "PASS:" in result.stderr
