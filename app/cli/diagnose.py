"""`vereda diagnose`: one request (JSON) or a batch (JSON Lines), with the model bundle the desktop app uses.

Whatever the bytes, the command exits 0 (answered) or 2 (the input breaks the contract: the error JSON on stderr):
text that is not UTF-8, JSON nested thousands deep, a 5,000-digit number, a lone surrogate in a key. In a batch a bad
line gets its error object in its place and the rest of the file is still diagnosed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.cli.common import EXIT_INVALID, EXIT_OK, Subparsers, add_data_dir, data_dir, dump, error_json

MAX_INPUT_BYTES = 64 * 1024 * 1024  # a batch of ~100,000 requests; more is a mistake, not a clinic's day


def register(sub: Subparsers) -> None:
    parser = sub.add_parser("diagnose", help="diagnose one request (JSON) or a batch (JSON Lines)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="FILE", help="a JSON request; '-' reads standard input")
    source.add_argument("--batch", metavar="FILE", help="JSON Lines, one request per line; '-' reads standard input")
    parser.add_argument("--bundle", metavar="DIR", type=Path,
                        help="model bundle folder (default: the one the desktop app uses for --data-dir)")
    add_data_dir(parser)
    parser.add_argument("--pretty", action="store_true", help="indent the JSON output")
    parser.add_argument("--no-next-findings", dest="next_findings", action="store_false",
                        help="leave out what to measure or ask next (faster for large batches; the list is empty)")
    parser.set_defaults(handler=run)


def parse_request(text: bytes | str) -> Any:
    """JSON from bytes or text, or a ContractError `invalid_json` saying why in a few words."""
    from app.core.contract import ContractError

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ContractError("invalid_json", None, detail="not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError("invalid_json", None, detail=f"line {exc.lineno}, column {exc.colno}: {exc.msg}") \
            from None
    except RecursionError:
        raise ContractError("invalid_json", None, detail="nested too deeply") from None
    except ValueError:  # an integer longer than Python converts (thousands of digits)
        raise ContractError("invalid_json", None, detail="a number is too long") from None


def _read(path: str) -> bytes:
    from app.core.contract import ContractError

    if path == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        with open(path, "rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise ContractError("invalid_json", None, detail=f"more than {MAX_INPUT_BYTES // (1024 * 1024)} MB")
    return data


def run(args: argparse.Namespace) -> int:
    from app.core.contract import ContractError
    from app.core.engine import DiagnosisEngine
    from app.sync.updates import active_bundle_dir

    lang = args.lang
    try:
        data = _read(args.input or args.batch)
    except OSError as exc:
        print(dump(error_json("unreadable_input", f"{exc.strerror}: {exc.filename}")), file=sys.stderr)
        return EXIT_INVALID
    except ContractError as exc:
        print(dump(exc.to_json(lang)), file=sys.stderr)
        return EXIT_INVALID
    # The same bundle as the desktop app on this clinic folder: an installed update, else the shipped one.
    engine = DiagnosisEngine.load(args.bundle or active_bundle_dir(data_dir(args)))

    if args.input:
        try:
            result = engine.diagnose(parse_request(data), next_findings=args.next_findings)
        except ContractError as exc:
            print(dump(exc.to_json(lang)), file=sys.stderr)
            return EXIT_INVALID
        print(dump(result, args.pretty))
        return EXIT_OK

    # Batch: one output line per input line, in order. A bad line gets its error object in its place (and on
    # stderr with its line number) so the rest of the file is still diagnosed, and the exit code says so.
    outputs: list[Mapping[str, Any] | None] = []  # an answer (DiagnoseResponse) or an error, by input line
    valid, positions = [], []
    invalid = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            valid.append(engine.validate(parse_request(line)))
            positions.append(len(outputs))
            outputs.append(None)
        except ContractError as exc:
            error = exc.to_json(lang)
            if exc.code == "invalid_json":
                error["error"]["message"] = f"{error['error']['message']} (line {number})"
            outputs.append(error)
            invalid += 1
            print(dump({"line": number, **error}), file=sys.stderr)
    for i, result in zip(positions, engine.diagnose_many(valid, next_findings=args.next_findings), strict=True):
        outputs[i] = result
    out = sys.stdout
    for item in outputs:
        out.write(dump(item, args.pretty) + "\n")
    return EXIT_INVALID if invalid else EXIT_OK
