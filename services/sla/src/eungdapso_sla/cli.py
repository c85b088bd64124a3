"""`python -m eungdapso_sla due --received 2026-02-13T10:00+09:00 --days 3`: the due moment.

Prints the due moment as ISO 8601 with its offset (Asia/Seoul). Exactly one period:
`--days N`, `--weeks N`, `--months N`, `--years N`, `--immediately` (3 working hours) or
`--simple` (same day before 18:00). When a database is configured (any `POSTGRES_*` variable
set, as for the service) the holidays declared at run time are counted, as the service and
`GET /api/v1/deadlines/compute` count them; `--holiday YYYY-MM-DD` (repeatable) adds more.
Without one it counts the public holidays and the `--holiday` ones only. Exit status: 0
answered, 1 the configured database unreachable (no answer rather than a wrong one), 2 bad
input (the message says what to change).

`python -m eungdapso_sla holidays declare YYYY-MM-DD --name NAME` records a holiday declared
at run time (an election day, 임시공휴일); running sla services count the open deadlines it
affects again within `SCHEDULER_INTERVAL_S` and record each move (`DeadlineMoved`).
`holidays list` shows the declared ones. Settings (the database) come from the environment,
as the service reads them. Exit status: 0 done, 1 refused (already declared, not a working
day, the database unreachable), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from eungdapso_platform.domain import DomainError, acting_as, command_line_actor
from eungdapso_platform.errors import is_transient
from eungdapso_platform.eventstore import IntegrityError
from eungdapso_platform.logging import configure_logging
from eungdapso_sla.application import SlaApplication
from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.compute import BadQuestion, parse_holiday, question
from eungdapso_sla.holidays import HOLIDAYS_ID, Calendars, DeclaredHolidays, declare_holiday
from eungdapso_sla.settings import SlaSettings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    due = commands.add_parser("due", help="the due moment of a period counted from a receipt")
    due.add_argument("--received", required=True, help="moment of receipt, e.g. 2026-02-13T10:00+09:00")
    for unit in ("days", "weeks", "months", "years"):
        due.add_argument(f"--{unit}", type=int, metavar="N", help=f"a period of N {unit}")
    due.add_argument("--immediately", action="store_true", help="즉시: 3 working hours")
    due.add_argument("--simple", action="store_true", help="a simple complaint: same day before 18:00")
    due.add_argument(
        "--holiday", action="append", default=[], metavar="YYYY-MM-DD", help="a declared holiday"
    )


def add_holiday_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    holidays = commands.add_parser("holidays", help="holidays declared at run time: declare, list")
    actions = holidays.add_subparsers(dest="action", required=True, metavar="{declare,list}")
    declare = actions.add_parser("declare", help="declare a holiday (moves the open deadlines it affects)")
    declare.add_argument("day", help="YYYY-MM-DD")
    declare.add_argument("--name", required=True, help="what the holiday is, e.g. 임시공휴일")
    actions.add_parser("list", help="the holidays declared so far")


def run_holidays(args: argparse.Namespace, settings: SlaSettings) -> int:
    configure_logging("sla-holidays", "WARNING")
    day = None
    if args.action == "declare":
        try:
            day = parse_holiday(args.day)
        except BadQuestion as exc:
            sys.stderr.write(f"python -m eungdapso_sla holidays declare: error: {exc}\n")
            return 2

    def declare_or_list(application: SlaApplication) -> int:
        if day is not None:
            try:
                with acting_as(command_line_actor()):
                    declared = declare_holiday(
                        application, day, args.name, BusinessCalendar(hours=settings.working_hours())
                    )
            except DomainError as exc:
                sys.stderr.write(f"refused: {exc}\n")
                return 1
            except IntegrityError:
                sys.stderr.write(
                    "refused: another declaration was recorded meanwhile; run the command again\n"
                )
                return 1
            sys.stdout.write(
                f"declared {day.isoformat()} ({args.name.strip()}): calendar version {declared.version}\n"
            )
            return 0
        found = declared_in(application)
        listed = found.days if found is not None else {}
        for d, name in sorted(listed.items()):
            sys.stdout.write(f"{d}  {name}\n")
        return 0

    return _with_store(settings, declare_or_list)


def _with_store(settings: SlaSettings, work: Callable[[SlaApplication], int]) -> int:
    """Run `work` on sla's event store; 1 with a message when the database cannot be reached."""
    application: SlaApplication | None = None
    try:
        application = SlaApplication(env=settings.eventsourcing_env())
        return work(application)
    except Exception as exc:
        if not is_transient(exc):
            raise
        sys.stderr.write(f"cannot reach the database: {type(exc).__name__}: {exc}\n")
        return 1
    finally:
        if application is not None:
            application.close()


#: The settings that say where the database is: any of them set means one is configured.
_DATABASE_SETTINGS = frozenset(
    {"postgres_host", "postgres_port", "postgres_dbname", "postgres_user", "postgres_schema"}
)


def database_configured(settings: SlaSettings) -> bool:
    return bool(_DATABASE_SETTINGS & settings.model_fields_set)


def run_due(args: argparse.Namespace, settings: SlaSettings) -> int:
    try:
        asked = question(
            received=args.received,
            days=args.days,
            weeks=args.weeks,
            months=args.months,
            years=args.years,
            immediately=args.immediately,
            simple=args.simple,
            holidays=args.holiday,
        )
    except BadQuestion as exc:
        sys.stderr.write(f"python -m eungdapso_sla due: error: {exc}\n")
        return 2
    base = BusinessCalendar(hours=settings.working_hours())

    def answer(calendar: BusinessCalendar) -> int:
        sys.stdout.write(asked.answer(calendar).isoformat() + "\n")
        return 0

    if not database_configured(settings):
        return answer(base)
    configure_logging("sla-due", "WARNING")
    # The same calendar the service counts with: the public holidays and the declared ones.
    return _with_store(settings, lambda application: answer(Calendars(base).of(declared_in(application))[1]))


def declared_in(application: SlaApplication) -> DeclaredHolidays | None:
    found = application.find(HOLIDAYS_ID)
    return found if isinstance(found, DeclaredHolidays) else None
