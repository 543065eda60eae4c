"""`plp-cds`: run the service and its operational commands."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import subprocess
import sys

import uvicorn

from cds.ops.logging import logging_config
from cds.ops.report import report
from cds.settings import get_settings
from cds.storage.database import Database, StorageUnavailable


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="plp-cds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the CDS Hooks service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    for name, text in (
        ("migrate", "bring the database schema up to date"),
        ("report", "print cards shown, accepted and overridden per rule, with override reasons"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--database-url", help="default: the DATABASE_URL setting")
    commands.add_parser(
        "bench", help="run the speed benchmark (same as python -m bench)", add_help=False
    )
    # The benchmark parses its own options.
    args, bench_options = parser.parse_known_args(argv)
    if args.command == "bench":
        sys.exit(_run_bench(bench_options))
    if bench_options:
        parser.error(f"unrecognized arguments: {' '.join(bench_options)}")
    if args.command == "serve":
        uvicorn.run(
            "cds.app:create_served_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=logging_config(get_settings().cds_log_level),
            # On SIGTERM uvicorn stops accepting, lets calls in flight finish, then runs
            # the lifespan shutdown; this bounds the wait.
            timeout_graceful_shutdown=20,
        )
    elif args.command in ("migrate", "report"):
        database_url = args.database_url or get_settings().database_url
        try:
            if args.command == "migrate":
                asyncio.run(_migrate(database_url))
                print("database schema is up to date")
            else:
                sys.stdout.write(asyncio.run(report(database_url)))
        except StorageUnavailable as error:
            sys.exit(f"plp-cds {args.command}: database unavailable: {error}")


def _run_bench(options: list[str]) -> int:
    """The benchmark is a tool of the source checkout, not part of the installed service."""
    if importlib.util.find_spec("bench") is None:
        print(
            "plp-cds bench: the benchmark ships with the source repository; "
            "run it from the repository root (python -m bench)",
            file=sys.stderr,
        )
        return 2
    return subprocess.call([sys.executable, "-m", "bench", *options])


async def _migrate(database_url: str) -> None:
    database = Database(database_url)
    try:
        await database.migrate()
    finally:
        await database.dispose()


if __name__ == "__main__":
    main()
