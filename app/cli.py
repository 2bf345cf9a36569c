"""`vereda` command line: the desktop app by default, and subcommands for doctors' scripts and IT staff.

Exit codes: 0 success, 2 invalid input (the error JSON is on stderr), 1 anything else (a message, never a
traceback, on stderr; the traceback goes to the log).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from app import __version__, logs

log = logging.getLogger("vereda.cli")

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


def _default_lang() -> str:
    lang = os.environ.get("VEREDA_LANG", "es").lower()[:2]
    return lang if lang in ("es", "en") else "es"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vereda",
        description="Vereda: offline diagnosis aid for rural clinics. Without a command it opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"vereda {__version__}")
    parser.add_argument("--lang", choices=("es", "en"), default=_default_lang(),
                        help="language of messages (default: es, or VEREDA_LANG)")
    sub = parser.add_subparsers(dest="command")

    diagnose = sub.add_parser("diagnose", help="diagnose one request (JSON) or a batch (JSON Lines)")
    source = diagnose.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="FILE", help="a JSON request; '-' reads standard input")
    source.add_argument("--batch", metavar="FILE", help="JSON Lines, one request per line; '-' reads standard input")
    diagnose.add_argument("--bundle", metavar="DIR", type=Path, help="model bundle folder (default: the shipped one)")
    diagnose.add_argument("--pretty", action="store_true", help="indent the JSON output")
    return parser


def _open(path: str) -> IO[str]:
    return sys.stdin if path == "-" else open(path, encoding="utf-8")  # closed by the caller


def _error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "field": field, "message": message}}


def _dump(obj: Any, pretty: bool) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2 if pretty else None)


def _batch_lines(fh: IO[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(fh, start=1):
        if line.strip():
            yield number, line


def cmd_diagnose(args: argparse.Namespace) -> int:
    from app.core.contract import ContractError
    from app.core.engine import DiagnosisEngine

    lang = args.lang
    try:
        fh = _open(args.input or args.batch)
    except OSError as exc:
        print(_dump(_error("unreadable_input", f"{exc.strerror}: {exc.filename}"), False), file=sys.stderr)
        return EXIT_INVALID
    engine = DiagnosisEngine.load(args.bundle)

    if args.input:
        with fh:
            text = fh.read()
        try:
            raw = json.loads(text)
            result = engine.diagnose(raw)
        except json.JSONDecodeError as exc:
            err = ContractError("invalid_json", None, detail=f"line {exc.lineno}, column {exc.colno}: {exc.msg}")
            print(_dump(err.to_json(lang), False), file=sys.stderr)
            return EXIT_INVALID
        except ContractError as exc:
            print(_dump(exc.to_json(lang), False), file=sys.stderr)
            return EXIT_INVALID
        print(_dump(result, args.pretty))
        return EXIT_OK

    # Batch: one output line per input line, in order. A bad line gets its error object in its place (and on
    # stderr with its line number) so the rest of the file is still diagnosed, and the exit code says so.
    invalid = 0
    with fh:
        lines = list(_batch_lines(fh))
    outputs: list[dict[str, Any] | None] = [None] * len(lines)
    valid, positions = [], []
    for i, (number, line) in enumerate(lines):
        try:
            valid.append(engine.validate(json.loads(line)))
            positions.append(i)
        except json.JSONDecodeError as exc:
            err = ContractError("invalid_json", None, detail=f"line {number}, column {exc.colno}: {exc.msg}")
            outputs[i] = err.to_json(lang)
        except ContractError as exc:
            outputs[i] = exc.to_json(lang)
        if outputs[i] is not None:
            invalid += 1
            print(_dump({"line": number, **outputs[i]}, False), file=sys.stderr)  # type: ignore[dict-item]
    for i, result in zip(positions, engine.diagnose_many(valid), strict=True):
        outputs[i] = result
    out = sys.stdout
    for item in outputs:
        out.write(_dump(item, args.pretty) + "\n")
    return EXIT_INVALID if invalid else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure()
    if args.command is None:
        # The desktop app arrives with its own issue; until then say what there is.
        parser.print_help()
        return EXIT_OK
    try:
        if args.command == "diagnose":
            return cmd_diagnose(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the last line of defence: a message, not a traceback
        from app.core.bundle import BundleError

        log.exception("vereda %s failed", args.command)
        kind = "bundle_error" if isinstance(exc, BundleError) else "internal_error"
        print(_dump(_error(kind, str(exc)), False), file=sys.stderr)
        return EXIT_FAILURE
    parser.error(f"unknown command {args.command}")
    return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
