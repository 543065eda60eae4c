"""`plp-cds` as a person meets it: help with defaults, usage where the mistake is, and one
line naming the setting and the fix for every configuration mistake."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from cds.cli import main
from cds.ops.server import serving_problems
from cds.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    # Each test sets its own environment; the settings are read again for it.
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out, err


def test_serve_help_gives_every_option_a_text_and_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["serve", "--help"], capsys)
    assert code == 0
    assert out.startswith("usage: plp-cds serve ")
    text = " ".join(out.split())
    assert (
        "--host HOST address to listen on; 0.0.0.0 for every interface, which needs client "
        "authentication or CDS_REQUIRE_AUTH=false (default: 127.0.0.1)"
    ) in text
    assert "--port PORT TCP port to listen on (default: 8000)" in text
    assert "(default: 1)" in text


@pytest.mark.parametrize("command", ["migrate", "report"])
def test_database_commands_say_where_the_database_comes_from(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    assert f"usage: plp-cds {command} [-h] [--database-url URL]" in out
    assert "(default: the DATABASE_URL setting, else sqlite:///./plp-cds.db)" in " ".join(
        out.split()
    )


def test_a_mistyped_option_gets_the_usage_of_its_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["serve", "--prot", "8001"], capsys)
    assert code == 2
    assert err.splitlines() == [
        "usage: plp-cds serve [-h] [--host HOST] [--port PORT] [--workers WORKERS]",
        "plp-cds serve: error: unrecognized arguments: --prot 8001",
    ]


def test_a_bad_option_value_gets_the_usage_of_its_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["serve", "--port", "eighty"], capsys)
    assert code == 2
    assert (
        err.splitlines()[-1] == "plp-cds serve: error: argument --port: invalid int value: 'eighty'"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "CDS_FHIR_TIMEOUT_S",
            "abc",
            "plp-cds serve: CDS_FHIR_TIMEOUT_S='abc' is not valid: Input should be a valid "
            "number, unable to parse string as a number. Fix: set CDS_FHIR_TIMEOUT_S to a "
            "number, or unset it for the default (3.0).",
        ),
        (
            "DATABASE_URL",
            "mysql://cds@db/cds",
            "plp-cds serve: DATABASE_URL='mysql://cds@db/cds' is not valid: DATABASE_URL must "
            "be a sqlite:// or postgresql:// URL, not mysql://. Fix: set DATABASE_URL to a "
            "valid value, or unset it for the default (sqlite:///./plp-cds.db).",
        ),
        (
            "CDS_LOG_LEVEL",
            "verbose",
            "plp-cds serve: CDS_LOG_LEVEL='VERBOSE' is not valid: Input should be 'CRITICAL', "
            "'ERROR', 'WARNING', 'INFO' or 'DEBUG'. Fix: set CDS_LOG_LEVEL to one of "
            "'CRITICAL', 'ERROR', 'WARNING', 'INFO' or 'DEBUG', or unset it for the default "
            "(INFO).",
        ),
        (
            "CDS_REQUIRE_AUTH",
            "perhaps",
            "plp-cds serve: CDS_REQUIRE_AUTH='perhaps' is not valid: Input should be a valid "
            "boolean, unable to interpret input. Fix: set CDS_REQUIRE_AUTH to true or false, "
            "or unset it for the default (False).",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_the_fix(
    name: str,
    value: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, value)
    code, out, err = run(["serve", "--port", "1"], capsys)
    assert code == 1
    assert out == ""
    assert err == message + "\n"


def test_required_authentication_without_issuers_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_REQUIRE_AUTH", "true")
    code, _, err = run(["serve"], capsys)
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith("plp-cds serve: CDS_REQUIRE_AUTH=true but no trusted issuers")
    assert "set CDS_TRUSTED_ISSUERS_FILE" in line


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "(top level: Invalid JSON: key must be a string at line 1 column 2)"),
        (
            json.dumps({"https://ehr.example.org": {"jwks_url": "ftp://ehr.example.org/k"}}),
            "(https://ehr.example.org.jwks_url: String should match pattern '^https?://')",
        ),
    ],
)
def test_a_bad_issuers_file_is_one_line_naming_the_problem(
    content: str,
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    issuers = tmp_path / "trusted-issuers.json"
    issuers.write_text(content)
    monkeypatch.setenv("CDS_TRUSTED_ISSUERS_FILE", str(issuers))
    code, _, err = run(["serve"], capsys)
    assert code == 1
    assert err == (
        f"plp-cds serve: CDS_TRUSTED_ISSUERS_FILE {issuers} is not valid {problem}; "
        "fix the file (format: README, Registering an EHR)\n"
    )


def test_a_bad_database_url_option_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["migrate", "--database-url", "mysql://cds@db/cds"], capsys)
    assert code == 1
    assert err == (
        "plp-cds migrate: --database-url 'mysql://cds@db/cds' is not usable: DATABASE_URL must "
        "be a sqlite:// or postgresql:// URL, not mysql://; use sqlite:///path or "
        "postgresql://user:password@host/db\n"
    )


def test_bench_help_names_the_command_it_was_called_by(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    out = capfd.readouterr().out
    assert out.startswith("usage: plp-cds bench ")
    assert "(default: 8)" in out


def test_tracing_without_its_extra_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As if `pip install -e '.[otel]'` had not been run: the tracing module cannot import.
    import cds.ops

    monkeypatch.delattr(cds.ops, "tracing", raising=False)
    monkeypatch.setitem(sys.modules, "cds.ops.tracing", None)
    monkeypatch.setenv("CDS_OTEL_ENABLED", "true")
    code, _, err = run(["serve"], capsys)
    assert code == 1
    assert err == (
        "plp-cds serve: CDS_OTEL_ENABLED=true but OpenTelemetry is not installed: install the "
        "extra (pip install 'plp-cds[otel]', or -e '.[otel]' in the repository), or unset "
        "CDS_OTEL_ENABLED\n"
    )


def test_a_state_directory_that_cannot_hold_the_journal_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("")
    monkeypatch.setenv("CDS_STATE_DIR", str(occupied))
    code, _, err = run(["serve"], capsys)
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith(
        f"plp-cds serve: CDS_STATE_DIR='{occupied}' cannot hold the card journal"
    )
    assert line.endswith(
        "Fix: set CDS_STATE_DIR to a directory this user can write, or unset it for the "
        "default (./plp-cds-state)."
    )


# -- secure defaults: where and how `serve` may listen ---------------------------------------


def issuers_file(tmp_path: Path) -> Path:
    path = tmp_path / "trusted-issuers.json"
    key = ECKey.generate_key("P-384", parameters={"kid": "k1"})
    path.write_text(
        json.dumps({"https://ehr.example.org": {"jwks": {"keys": [key.as_dict(private=False)]}}})
    )
    return path


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "cds.example.org"])
def test_serving_other_machines_without_authentication_is_refused(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["serve", "--host", host], capsys)
    assert code == 1
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"plp-cds serve: --host {host} is reachable from other machines")
    assert "CDS_REQUIRE_AUTH=false" in line


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_authentication(host: str) -> None:
    assert serving_problems(Settings(), host, 1) == ([], [])


def test_serving_openly_is_allowed_when_said_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    assert serving_problems(Settings(), "0.0.0.0", 1)[0], "unset is not a choice"
    monkeypatch.setenv("CDS_REQUIRE_AUTH", "false")
    assert serving_problems(Settings(), "0.0.0.0", 1) == ([], [])


def test_several_workers_with_authentication_need_a_shared_replay_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CDS_TRUSTED_ISSUERS_FILE", str(issuers_file(tmp_path)))
    code, _, err = run(["serve", "--workers", "2"], capsys)
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith("plp-cds serve: --workers 2 with client authentication needs REDIS_URL")

    settings = Settings(cds_trusted_issuers_file=str(issuers_file(tmp_path)))
    assert serving_problems(
        settings.model_copy(update={"redis_url": "redis://r:6379/0"}), "::1", 2
    ) == ([], [])


def test_one_worker_with_authentication_and_no_redis_is_warned_about(tmp_path: Path) -> None:
    settings = Settings(cds_trusted_issuers_file=str(issuers_file(tmp_path)))
    errors, [warning] = serving_problems(settings, "127.0.0.1", 1)
    assert errors == []
    assert "forgets on restart" in warning
