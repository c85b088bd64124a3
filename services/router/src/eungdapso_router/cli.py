"""`python -m eungdapso_router directory ...`: the organisation directory from the command line.

    directory check FILE     validate an organisation file (TOML or JSON); records nothing
    directory publish FILE   validate it and record it as the next version: running routers
                             take it up within `DIRECTORY_POLL_INTERVAL_S` seconds
    directory show           the version in force

`publish` prints the version in force afterwards (a new one, or the one that already has this
content). Settings (the database) come from the environment, as the service reads them. Exit
status: 0 done, 1 refused (an invalid file, the database unreachable), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eungdapso_platform.domain import acting_as, command_line_actor
from eungdapso_platform.errors import is_transient
from eungdapso_platform.logging import configure_logging
from eungdapso_platform.settings import load_settings
from eungdapso_router.directory import Directory, DirectoryError, parse_directory
from eungdapso_router.settings import RouterSettings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    directory = commands.add_parser("directory", help="the organisation directory: check, publish, show")
    actions = directory.add_subparsers(dest="action", required=True, metavar="{check,publish,show}")
    check = actions.add_parser("check", help="validate an organisation file; records nothing")
    check.add_argument("file", type=Path, help="organisation file (TOML or JSON)")
    publish = actions.add_parser(
        "publish", help="validate an organisation file and record it as the next version"
    )
    publish.add_argument("file", type=Path, help="organisation file (TOML or JSON)")
    actions.add_parser("show", help="the version in force")


def run(args: argparse.Namespace) -> int:
    # Warnings only: what the command did is its output (and the event store's record).
    configure_logging("router-directory", "WARNING")
    directory: Directory | None = None
    if args.action in ("check", "publish"):
        directory = _read(args.file)
        if directory is None:
            return 1
        if args.action == "check":
            _say(f"valid: {_describe(directory)}")
            return 0
    settings = load_settings(RouterSettings)
    try:
        return _run(args, settings, directory)
    except Exception as exc:
        if not is_transient(exc):
            raise
        sys.stderr.write(f"cannot reach the database: {type(exc).__name__}: {exc}\n")
        return 1


def _run(args: argparse.Namespace, settings: RouterSettings, directory: Directory | None) -> int:
    from eungdapso_router.application import RouterApplication
    from eungdapso_router.directory_store import DirectoryStore

    application = RouterApplication(env=settings.eventsourcing_env())
    try:
        store = DirectoryStore(application)
        if directory is not None:
            with acting_as(command_line_actor()):
                outcome = store.publish(directory, source=f"file:{args.file.name}")
            if outcome.recorded:
                _say(f"published directory version {outcome.version}: {_describe(directory)}")
            else:
                _say(f"unchanged: directory version {outcome.version} already has this content")
            return 0
        current = store.current()
        if current is None:
            _say("no directory published yet: routers publish their packaged edition when they start")
            return 0
        _say(
            f"directory version {current.version}: {_describe(current.directory)}, "
            f"published {current.published_at:%Y-%m-%d %H:%M:%S%z} from {current.source}"
        )
        return 0
    finally:
        application.close()


def _read(path: Path) -> Directory | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"cannot read {path}: {exc}\n")
        return None
    try:
        return parse_directory(text)
    except DirectoryError as exc:
        sys.stderr.write(f"{path} is not a usable directory ({len(exc.problems)} problems):\n")
        for problem in exc.problems:
            sys.stderr.write(f"  - {problem}\n")
        return None


def _describe(directory: Directory) -> str:
    return f"edition {directory.edition}, {len(directory.offices)} offices, sha256 {directory.content_hash}"


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
