"""docker-compose.yml, read as data: Docker does not run here, so the file is checked for
the pieces the deployment relies on and for settings the code actually reads."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from cds.settings import Settings
from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load(COMPOSE.read_text())
    return compose["services"]


def one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def test_the_expected_services_and_images(services: dict[str, dict[str, Any]]) -> None:
    assert services["app"]["build"] == "."
    assert services["nginx"]["image"].startswith("nginx:")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["fhir"]["image"] == "hapiproject/hapi:latest"


def test_the_service_runs_as_several_replicas_behind_nginx(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["app"]["deploy"]["replicas"] >= 2
    assert "ports" not in services["app"], "replicas are reached through nginx only"
    nginx_conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server app:8000" in nginx_conf
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]


def test_every_long_running_service_has_a_health_check(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if one_shot(service):
            continue
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no health check"
        assert not check.get("disable"), f"{name} disables its health check"


def test_services_wait_for_the_health_of_what_they_need(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully"
                if one_shot(services[needed])
                else "service_healthy"
            )
            assert condition["condition"] == expected, f"{name} → {needed}"


def test_the_app_environment_names_only_settings_the_code_reads(
    services: dict[str, dict[str, Any]],
) -> None:
    environment = services["app"]["environment"]
    fields = {name.upper() for name in Settings.model_fields}
    assert set(environment) <= fields, set(environment) - fields
    assert {
        "DATABASE_URL",
        "REDIS_URL",
        "CDS_PUBLIC_BASE_URL",
        "CDS_FHIR_ALLOWLIST",
        "CDS_TRUSTED_ISSUERS_FILE",
    } <= set(environment)
    # The values must parse as the settings' own types.
    Settings(**{name.lower(): value for name, value in environment.items()})


def test_the_app_uses_the_compose_postgres_and_redis(services: dict[str, dict[str, Any]]) -> None:
    environment = services["app"]["environment"]
    postgres = services["postgres"]["environment"]
    user, password, db = (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    assert environment["DATABASE_URL"] == f"postgresql://{user}:{password}@postgres:5432/{db}"
    assert environment["REDIS_URL"].startswith("redis://redis:6379")
    assert environment["CDS_FHIR_ALLOWLIST"].startswith("http://fhir:8080/")


def test_the_image_is_slim_runs_unprivileged_and_serves_on_all_interfaces() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert bases and all(base.endswith("-slim") for base in bases)
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert 'CMD ["plp-cds", "serve", "--host", "0.0.0.0"' in dockerfile
    assert "HEALTHCHECK" in dockerfile


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", "*.db", "tests"} <= ignored


def test_compose_paths_exist() -> None:
    for relative in ("deploy/nginx.conf", "deploy/issuers", "Dockerfile"):
        assert (ROOT / relative).exists(), relative
