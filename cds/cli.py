"""`plp-cds`: run the CDS Hooks service and its operational commands.

Settings come from environment variables (see the README, Settings); a wrong one stops the
command with one line naming it and the fix.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from cds.ops.configuration import ConfigurationError, check_startup, load_settings
from cds.storage.database import Database, StorageUnavailable
from cds.storage.schema import current_revision, head_revision
from cds.storage.url import async_url

# The benchmark parses its own options, under this name.
_BENCH = (
    "import sys; from bench.__main__ import main; "
    "sys.exit(main(sys.argv[1:], prog='plp-cds bench'))"
)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        sys.exit(_run_bench(argv[1:]))
    parser, commands = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # A mistyped option is answered with the usage of the command it was given to.
        commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        if args.command == "serve":
            _serve(args.host, args.port, args.workers)
        elif args.command == "migrate":
            print(asyncio.run(_migrate(_database_url(args.database_url))))
        elif args.command == "report":
            from cds.ops.report import NothingToReport, report

            try:
                sys.stdout.write(asyncio.run(report(_database_url(args.database_url))))
            except NothingToReport as nothing:
                _fail(args.command, str(nothing))
    except ConfigurationError as error:
        _fail(args.command, str(error))
    except StorageUnavailable as error:
        _fail(args.command, f"database unavailable: {error}")


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="plp-cds", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="run the CDS Hooks service",
        description="Run the CDS Hooks service (HTTP; put a TLS-terminating proxy in front).",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 for every interface, which needs client "
        "authentication or CDS_REQUIRE_AUTH=false (default: %(default)s)",
    )
    serve.add_argument(
        "--port", type=int, default=8000, help="TCP port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes; more than one needs PostgreSQL, and Redis (REDIS_URL) when "
        "clients authenticate (default: %(default)s)",
    )
    commands = {"serve": serve}
    for name, text in (
        ("migrate", "create the database schema, or bring it to this version's revision"),
        ("report", "print cards shown, accepted and overridden per rule, with override reasons"),
    ):
        command = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        command.add_argument(
            "--database-url",
            metavar="URL",
            help="sqlite:///path or postgresql://user:password@host/db "
            "(default: the DATABASE_URL setting, else sqlite:///./plp-cds.db)",
        )
        commands[name] = command
    # Listed for the help text only; its options are the benchmark's own.
    sub.add_parser("bench", help="run the speed benchmark from a source checkout; see --help")
    return parser, commands


def _serve(host: str, port: int, workers: int) -> None:
    from cds.ops.server import serve, serving_problems

    settings = load_settings()
    check_startup(settings)
    errors, warnings = serving_problems(settings, host, workers)
    if errors:
        raise ConfigurationError("\n".join(errors))
    for warning in warnings:
        print(f"plp-cds serve: warning: {warning}", file=sys.stderr)
    with _shared_metrics(workers):
        serve(settings, host, port, workers)


@contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, each writes its metrics to a directory of this run, so that
    /metrics reports them all whichever worker answers (prometheus-client's multiprocess
    mode; the workers are started after this, so they see it). A directory given in
    PROMETHEUS_MULTIPROC_DIR is used as it is."""
    from cds.ops.metrics import MULTIPROCESS_ENV

    if workers <= 1 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="plp-cds-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield
    finally:
        del os.environ[MULTIPROCESS_ENV]
        shutil.rmtree(directory, ignore_errors=True)


def _database_url(option: str | None) -> str:
    if option is None:
        return load_settings().database_url
    try:
        async_url(option)
    except Exception as error:
        raise ConfigurationError(
            f"--database-url {option!r} is not usable: {error}; "
            "use sqlite:///path or postgresql://user:password@host/db"
        ) from None
    return option


async def _migrate(database_url: str) -> str:
    database = Database(database_url)
    where = make_url(database_url).render_as_string(hide_password=True)
    try:
        before = await current_revision(database)
        await database.migrate()
    finally:
        await database.dispose()
    head = head_revision()
    if before is None:
        return f"created the schema in {where} (revision {head})"
    if before == head:
        return f"{where} is already at revision {head}; nothing to do"
    return f"upgraded {where} from revision {before} to {head}"


def _run_bench(options: list[str]) -> int:
    """The benchmark is a tool of the source checkout, not part of the installed service."""
    # `python -c` imports from the working directory, as `python -m bench` does.
    if importlib.util.find_spec("bench") is None and not Path("bench/__main__.py").is_file():
        print(
            "plp-cds bench: the benchmark ships with the source repository; "
            "run it from the repository root (python -m bench)",
            file=sys.stderr,
        )
        return 2
    return subprocess.call([sys.executable, "-c", _BENCH, *options])


def _fail(command: str, message: str) -> None:
    for line in message.splitlines():
        print(f"plp-cds {command}: {line}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
