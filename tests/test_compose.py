"""docker-compose.yml, read as data: Docker does not run here, so the file is checked for
the pieces the deployment relies on and for settings the code actually reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from cds.app import create_app
from cds.security.allowlist import is_allowed
from cds.security.trusted_issuers import load_trusted_issuers
from cds.settings import Settings
from tests.conftest import ROOT, load_example

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
    assert services["fhir"]["image"].startswith("hapiproject/hapi:")


# A release number, not a moving tag such as latest, 16-alpine or 7: at least major.minor.
PINNED_TAG = re.compile(r"^v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$")


def test_every_image_is_pinned_to_a_release(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and PINNED_TAG.match(tag), f"{name}: {image} is not pinned"


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of every bind mount; named volumes are left out."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def test_every_mounted_file_is_in_the_repository(services: dict[str, dict[str, Any]]) -> None:
    mounts = [(name, m) for name, service in services.items() for m in bind_mounts(service)]
    assert mounts
    for name, (source, _) in mounts:
        assert not source.startswith("/"), f"{name} mounts a path outside the repository"
        assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"


def host_path(service: dict[str, Any], container_path: str) -> Path:
    for source, target in bind_mounts(service):
        if container_path.startswith(target.rstrip("/") + "/"):
            return ROOT / source / container_path.removeprefix(target.rstrip("/") + "/")
    raise AssertionError(f"{container_path} is not inside any mounted directory")


def test_the_shipped_issuers_file_starts_the_service_open(
    services: dict[str, dict[str, Any]],
) -> None:
    environment = services["app"]["environment"]
    issuers = host_path(services["app"], environment["CDS_TRUSTED_ISSUERS_FILE"])
    assert load_trusted_issuers(str(issuers)) == {}
    assert environment["CDS_REQUIRE_AUTH"] == "false"
    # What every replica does at start-up with this environment: it must not refuse.
    settings = Settings(
        **{name.lower(): value for name, value in environment.items()}
        | {"cds_trusted_issuers_file": str(issuers), "database_url": "sqlite://"}
    )
    create_app(settings)


def test_the_demo_job_loads_the_example_patient_into_the_fhir_server(
    services: dict[str, dict[str, Any]],
) -> None:
    job = services["demo-patient"]
    assert one_shot(job)
    assert job["depends_on"] == {"fhir": {"condition": "service_healthy"}}
    assert "http://fhir:8080/fhir" in job["command"]
    upload = job["command"][job["command"].index("--data-binary") + 1]
    bundle = json.loads(host_path(job, upload.removeprefix("@")).read_text())
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    example = load_example("patient-view.json")["prefetch"]
    expected = [example["patient"]] + [
        entry["resource"]
        for key in ("conditions", "medications")
        for entry in example[key]["entry"]
    ]
    assert [entry["resource"] for entry in bundle["entry"]] == expected
    assert [entry["request"] for entry in bundle["entry"]] == [
        {"method": "PUT", "url": "Patient/pat-plp-1"},
        {"method": "PUT", "url": "Condition/plp"},
        {"method": "PUT", "url": "Condition/hf"},
        {"method": "PUT", "url": "MedicationRequest/gaba"},
    ]


def test_the_demo_hook_names_the_fhir_server_the_replicas_may_call(
    services: dict[str, dict[str, Any]],
) -> None:
    request = json.loads((ROOT / "deploy" / "demo" / "patient-view-from-fhir.json").read_text())
    allowlist = Settings(cds_fhir_allowlist=services["app"]["environment"]["CDS_FHIR_ALLOWLIST"])
    assert "prefetch" not in request
    assert request["context"]["patientId"] == "pat-plp-1"
    assert is_allowed(request["fhirServer"], allowlist.fhir_allowlist)


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


def test_the_build_inputs_exist() -> None:
    for relative in ("deploy/nginx.conf", "Dockerfile", ".dockerignore"):
        assert (ROOT / relative).is_file(), relative
