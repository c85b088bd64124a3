"""`python -m eungdapso_sla due --received 2026-02-13T10:00+09:00 --days 3`: the due moment.

Prints the due moment as ISO 8601 with its offset (Asia/Seoul). Exactly one period:
`--days N`, `--weeks N`, `--months N`, `--years N`, `--immediately` (3 working hours) or
`--simple` (same day before 18:00). `--holiday YYYY-MM-DD` (repeatable) adds a declared
holiday. Exit status: 0 answered, 2 bad input (the message says what to change).
"""

from __future__ import annotations

import argparse
import sys

from eungdapso_sla.calendar import BusinessCalendar
from eungdapso_sla.compute import BadQuestion, question
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
    sys.stdout.write(asked.answer(BusinessCalendar(hours=settings.working_hours())).isoformat() + "\n")
    return 0
