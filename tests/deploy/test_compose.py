"""docker/docker-compose.yml is internally consistent (no Docker engine on the build machines)."""

from __future__ import annotations

import re
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from tests.helpers import DOCKER, REPO

INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?:[:?\-][^}]*)?\}")


def _volume_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for entry in service.get("volumes", []):
        source = entry.split(":", 1)[0] if isinstance(entry, str) else entry.get("source", "")
        sources.append(source)
    return sources


def _env_file_paths(service: dict[str, Any]) -> list[str]:
    entries = service.get("env_file", [])
    entries = [entries] if isinstance(entries, str) else entries
    return [e if isinstance(e, str) else e["path"] for e in entries]


def test_compose_declares_the_api_postgres_and_load_balancer_services(
    compose: dict[str, Any],
) -> None:
    assert set(compose["services"]) == {"api", "postgres", "lb"}


def test_postgres_uses_the_official_image_with_a_pinned_major(compose: dict[str, Any]) -> None:
    image = compose["services"]["postgres"]["image"]
    name, _, tag = image.partition(":")
    assert name == "postgres"  # official library image: no registry, no organisation
    assert tag and tag != "latest" and tag[0].isdigit()


def test_every_named_volume_used_is_declared_and_every_declared_one_used(
    compose: dict[str, Any],
) -> None:
    declared = set(compose.get("volumes") or {})
    named = {
        source
        for service in compose["services"].values()
        for source in _volume_sources(service)
        if source and not source.startswith((".", "/", "~"))
    }
    assert named == declared
    assert "/var/lib/postgresql/data" in str(compose["services"]["postgres"]["volumes"])


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in {"CMD", "CMD-SHELL"}, name


def test_api_healthcheck_probes_healthz(compose: dict[str, Any]) -> None:
    assert "/healthz" in " ".join(compose["services"]["api"]["healthcheck"]["test"])


def test_api_waits_for_a_healthy_database(compose: dict[str, Any]) -> None:
    depends = compose["services"]["api"]["depends_on"]
    assert depends == {"postgres": {"condition": "service_healthy"}}


def test_every_depends_on_condition_is_satisfiable(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for service in services.values():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in services
            assert spec["condition"] in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[target]


def test_env_file_ships_as_a_template_beside_the_compose_file(compose: dict[str, Any]) -> None:
    paths = _env_file_paths(compose["services"]["api"])
    assert paths
    for path in paths:
        # The real env file holds secrets and is created by the documented copy step.
        assert (DOCKER / path).is_file() or (DOCKER / f"{path}.example").is_file(), path


def test_every_interpolated_variable_is_documented_in_the_env_template(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    text = (DOCKER / "docker-compose.yml").read_text(encoding="utf-8")
    for variable in set(INTERPOLATION.findall(text)):
        assert variable in env_example, variable


def test_database_password_has_no_default(compose: dict[str, Any]) -> None:
    password = compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")


def test_api_database_url_points_at_the_postgres_service(compose: dict[str, Any]) -> None:
    raw = compose["services"]["api"]["environment"]["FACEMATCH_DATABASE_URL"]
    url = make_url(INTERPOLATION.sub("secret", raw))
    postgres_env = compose["services"]["postgres"]["environment"]
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "postgres"
    assert url.username == postgres_env["POSTGRES_USER"]
    assert url.database == postgres_env["POSTGRES_DB"]


def test_api_builds_from_the_repository_with_the_docker_dockerfile(
    compose: dict[str, Any],
) -> None:
    build = compose["services"]["api"]["build"]
    context = (DOCKER / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).is_file()


def test_api_applies_migrations_before_it_serves(compose: dict[str, Any]) -> None:
    assert compose["services"]["api"]["command"] == ["serve"]
    entrypoint = (DOCKER / "entrypoint.sh").read_text(encoding="utf-8")
    serve_branch = entrypoint[entrypoint.index('= "serve" ]') :]
    assert serve_branch.index("facematch migrate") < serve_branch.index("exec uvicorn app.main:app")


def test_api_keeps_its_data_directory_in_a_named_volume(compose: dict[str, Any]) -> None:
    assert "api-data:/data" in compose["services"]["api"]["volumes"]


def test_api_scales_behind_the_load_balancer(compose: dict[str, Any]) -> None:
    api, lb = compose["services"]["api"], compose["services"]["lb"]
    # `--scale api=N` cannot publish one host port N times: only the load balancer publishes.
    assert "ports" not in api and "container_name" not in api
    assert api["expose"] == ["8000"]
    assert lb["ports"] == ["${PUBLISH_ADDRESS:-127.0.0.1:8000}:8000"]
    assert lb["depends_on"] == {"api": {"condition": "service_healthy"}}
    name, _, tag = lb["image"].partition(":")
    assert name == "haproxy" and tag and tag != "latest"


def test_load_balancer_config_checks_readiness_and_follows_scaling(
    compose: dict[str, Any],
) -> None:
    source, target, mode = compose["services"]["lb"]["volumes"][0].split(":")
    assert mode == "ro" and target == "/usr/local/etc/haproxy/haproxy.cfg"
    config = (DOCKER / source).read_text(encoding="utf-8")
    assert "option httpchk GET /readyz" in config and "http-check expect status 200" in config
    # Every replica compose starts resolves under the service name through Docker's DNS.
    assert re.search(r"^\s*server-template \S+ 1-\d+ api:8000 check resolvers docker", config, re.M)
    assert "nameserver dns 127.0.0.11:53" in config
    assert "bind :8000" in config and "monitor-uri /lb-health" in config
    assert "/lb-health" in " ".join(compose["services"]["lb"]["healthcheck"]["test"])


def test_pgvector_override_swaps_the_database_image_and_the_backend() -> None:
    with (DOCKER / "docker-compose.pgvector.yml").open(encoding="utf-8") as handle:
        override = yaml.safe_load(handle)["services"]
    assert override["postgres"]["image"].startswith("pgvector/pgvector:pg")
    assert override["api"]["environment"] == {"FACEMATCH_INDEX_BACKEND": "pgvector"}
