"""`vereda` command line: the desktop app by default, and subcommands for doctors' scripts and IT staff.

One module per command group, each with its parser beside its handlers: `diagnose` (diagnose.py), the clinic's
database (clinic.py: init, demo, check, backup, restore), its accounts (users.py: user add|list|disable|enable|
reset-passphrase), the central service (sync.py: enroll, sync, usb-export, usb-import, model-rollback), the
health system's formats (export.py: export fhir|phenopacket|xlsx|csv|notifications), and `self-test`. Exit
codes, JSON output and the mapping of errors to them live in common.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app import __version__, logs
from app.cli import clinic, diagnose, export, sync, users
from app.cli.common import EXIT_FAILURE, EXIT_INVALID, default_lang, dump, error_json, exit_code_for, log


def _self_test(args: argparse.Namespace) -> int:
    from app import selftest

    return selftest.main(args.lang, args.json, screen_only=args.screen_only)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vereda",
        description="Vereda: offline diagnosis aid for rural clinics. Without a command it opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"vereda {__version__}")
    parser.add_argument("--lang", choices=("es", "en"), default=default_lang(),
                        help="language of messages (default: es, or VEREDA_LANG)")
    sub = parser.add_subparsers(dest="command")

    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("--data-dir", metavar="DIR", type=Path, default=None, help="clinic data folder")
    gui.set_defaults(handler=None)
    for group in (diagnose, clinic, users, sync, export):
        group.register(sub)

    selftest = sub.add_parser("self-test", help="check that this copy of Vereda works here (model bundle and its "
                              "signature, the origin document's cases, encrypted database, one screen)")
    selftest.add_argument("--json", action="store_true", help="print the report as JSON")
    # The screen check runs in a child process (app/selftest.py says why); this is how it is started.
    selftest.add_argument("--screen-only", action="store_true", help=argparse.SUPPRESS)
    selftest.set_defaults(handler=_self_test)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure()
    handler = getattr(args, "handler", None)
    if handler is None:  # no command, or `gui`
        from app.ui.app import run

        return run(getattr(args, "data_dir", None))
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: a message, not a traceback
        from app.core.messages import LocalisedError

        code = exit_code_for(exc)
        if code is not None and isinstance(exc, LocalisedError):
            print(dump(exc.to_json(args.lang)), file=sys.stderr)
            return code
        from app.core.bundle import BundleError

        log.error("vereda %s failed", args.command, exc_info=exc)
        kind = "bundle_error" if isinstance(exc, BundleError) else "internal_error"
        print(dump(error_json(kind, str(exc))), file=sys.stderr)
        return EXIT_FAILURE


__all__ = ["EXIT_INVALID", "build_parser", "main"]
