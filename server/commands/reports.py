"""`vereda-server report dhis2`: the week's confirmed diagnoses as a DHIS2 aggregate report (server/reports/dhis2.py).

    vereda-server report dhis2 --week 2026-W48 [--dry-run] [--output FILE.json|FILE.xml] [--mapping FILE]
                               [--url URL] [--token-file FILE]

Without --dry-run the report is pushed to the DHIS2 instance at --url (else VEREDA_SERVER_DHIS2_URL) with the
personal access token read from --token-file (else VEREDA_SERVER_DHIS2_TOKEN): never on the command line, where
other users could read it. --output writes the dataValueSets JSON, or ADX XML when FILE ends in .xml. The summary
(and the import counts of a push) is JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from server.commands.common import EXIT_FAILURE, EXIT_OK, UsageError, dump, error_line, sessions


def add_parsers(sub: Any, db: argparse.ArgumentParser) -> None:
    report = sub.add_parser("report", help="reports for the health system (DHIS2 weekly aggregate)")
    kinds = report.add_subparsers(dest="report_kind", required=True)
    dhis2 = kinds.add_parser("dhis2", parents=[db], help="the week's confirmed diagnoses per clinic, condition, age "
                             "and sex, as DHIS2 dataValueSets JSON / ADX XML, pushed to DHIS2")
    dhis2.add_argument("--week", required=True, metavar="YYYY-Www", help="ISO week, e.g. 2026-W48")
    dhis2.add_argument("--dry-run", action="store_true", help="build (and write) the report, send nothing")
    dhis2.add_argument("--output", metavar="FILE", type=Path, help="write the payload: .json dataValueSets, .xml ADX")
    dhis2.add_argument("--mapping", metavar="FILE", type=Path,
                       help="DHIS2 identifiers (default: VEREDA_SERVER_DHIS2_MAPPING, else the shipped example)")
    dhis2.add_argument("--url", help="the DHIS2 instance's base URL (default: VEREDA_SERVER_DHIS2_URL)")
    dhis2.add_argument("--token-file", metavar="FILE", type=Path,
                       help="personal access token, first line (default: VEREDA_SERVER_DHIS2_TOKEN)")


def cmd_report(args: argparse.Namespace) -> int:
    from server.reports import dhis2

    try:
        mapping_file = args.mapping or (Path(os.environ["VEREDA_SERVER_DHIS2_MAPPING"])
                                        if os.environ.get("VEREDA_SERVER_DHIS2_MAPPING") else None)
        mapping = dhis2.load_mapping(mapping_file)
        dhis2.parse_week(args.week)
        url = args.url or os.environ.get("VEREDA_SERVER_DHIS2_URL", "")
        token = _token(args)
        if not args.dry_run and not (url and token):
            raise UsageError("pushing to DHIS2 needs --url (or VEREDA_SERVER_DHIS2_URL) and --token-file (or "
                             "VEREDA_SERVER_DHIS2_TOKEN); use --dry-run to only build the report")
        with sessions(args)() as session:
            report = dhis2.build_report(args.week, dhis2.confirmed_in_week(session, args.week), mapping)
        out: dict[str, Any] = report.summary()
        if args.output is not None:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            text = report.adx() if args.output.suffix.lower() == ".xml" else \
                json.dumps(report.data_value_set(), ensure_ascii=False, indent=1)
            args.output.write_text(text, encoding="utf-8")
            out["output"] = str(args.output)
        if not args.dry_run:
            out["push"] = dhis2.push(report, url, token)
    except dhis2.ReportError as exc:
        raise UsageError(str(exc)) from None
    except dhis2.PushError as exc:
        import sys

        print(error_line("dhis2_push_failed", str(exc)), file=sys.stderr)
        return EXIT_FAILURE
    print(dump(out))
    return EXIT_OK


def _token(args: argparse.Namespace) -> str:
    if args.token_file is not None:
        try:
            lines = args.token_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read the token file {args.token_file}: {exc.strerror or exc}") from None
        return lines[0].strip() if lines else ""
    return os.environ.get("VEREDA_SERVER_DHIS2_TOKEN", "").strip()


COMMANDS = {"report": cmd_report}
