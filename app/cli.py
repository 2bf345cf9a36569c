"""`vereda` command line: the desktop app by default, and subcommands for doctors' scripts and IT staff.

Exit codes: 0 success, 2 invalid input (the error JSON is on stderr), 1 anything else (a message, never a
traceback, on stderr; the traceback goes to the log). `vereda check` also exits 1 when a check finds a problem.

IT staff commands (`init`, `demo`, `check`, `backup`, `restore`, and for the central service `enroll`, `sync`,
`usb-export`, `usb-import`, `model-rollback`) work on a clinic's data folder (default: the per-user data folder
from platformdirs). Passphrases and the recovery key are asked for on the terminal, or read
from a file for scripts (`--passphrase-file`, `--recovery-key-file`; first line, nothing else), never taken from
the command line, where other users of the laptop could read them in the process list.
"""

from __future__ import annotations

import argparse
import getpass
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

    gui = sub.add_parser("gui", help="open the desktop app (the default)")
    gui.add_argument("--data-dir", metavar="DIR", type=Path, default=None, help="clinic data folder")

    diagnose = sub.add_parser("diagnose", help="diagnose one request (JSON) or a batch (JSON Lines)")
    source = diagnose.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="FILE", help="a JSON request; '-' reads standard input")
    source.add_argument("--batch", metavar="FILE", help="JSON Lines, one request per line; '-' reads standard input")
    diagnose.add_argument("--bundle", metavar="DIR", type=Path, help="model bundle folder (default: the shipped one)")
    diagnose.add_argument("--pretty", action="store_true", help="indent the JSON output")
    _add_store_commands(sub)

    selftest = sub.add_parser("self-test", help="check that this copy of Vereda works here (model bundle and its "
                              "signature, the origin document's cases, encrypted database, one screen)")
    selftest.add_argument("--json", action="store_true", help="print the report as JSON")
    # The screen check runs in a child process (app/selftest.py says why); this is how it is started.
    selftest.add_argument("--screen-only", action="store_true", help=argparse.SUPPRESS)
    return parser


def _add_store_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", metavar="DIR", type=Path, default=None,
                       help="the clinic's data folder (default: the per-user data folder)")

    def login(p: argparse.ArgumentParser) -> None:
        p.add_argument("--user", default="admin", help="administrator's user name (default: admin)")
        who = p.add_mutually_exclusive_group()
        who.add_argument("--passphrase-file", metavar="FILE", type=Path, help="read the passphrase from FILE")
        who.add_argument("--recovery-key-file", metavar="FILE", type=Path,
                         help="use the recovery key in FILE instead (emergency access, logged)")

    init = sub.add_parser("init", help="create the encrypted clinic database (first run)")
    data_dir(init)
    init.add_argument("--clinic-name", help="the clinic's name (asked if missing)")
    init.add_argument("--municipality", help="the clinic's municipality (asked if missing)")
    init.add_argument("--admin-login", default="admin", help="administrator's user name (default: admin)")
    init.add_argument("--admin-name", help="administrator's full name (asked if missing)")
    init.add_argument("--admin-passphrase-file", metavar="FILE", type=Path,
                      help="read the administrator's passphrase from FILE (for scripts)")

    demo = sub.add_parser("demo", help="create a demo clinic with synthetic patients and print its passphrase")
    data_dir(demo)
    demo.add_argument("--patients", type=int, default=50, metavar="N", help="synthetic patients (default: 50)")
    demo.add_argument("--seed", type=int, default=None, help="random seed, for a reproducible demo")
    demo.add_argument("--bundle", metavar="DIR", type=Path, help="model bundle folder (default: the shipped one)")

    check = sub.add_parser("check", help="verify encryption, integrity and the audit log of the clinic database")
    data_dir(check)
    login(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")

    backup = sub.add_parser("backup", help="write an encrypted backup file (restorable with the recovery key)")
    data_dir(backup)
    login(backup)
    backup.add_argument("--output", metavar="FILE", type=Path, required=True, help="the backup file to write")

    restore = sub.add_parser("restore", help="restore an encrypted backup with the recovery key")
    data_dir(restore)
    restore.add_argument("--input", metavar="FILE", type=Path, required=True, help="the backup file")
    restore.add_argument("--recovery-key-file", metavar="FILE", type=Path, help="read the recovery key from FILE")
    restore.add_argument("--force", action="store_true",
                         help="replace a newer or different database (it is kept aside, never deleted)")

    enroll = sub.add_parser("enroll", help="enroll this laptop with the central service (one-time code)")
    data_dir(enroll)
    login(enroll)
    enroll.add_argument("--server", metavar="URL", required=True, help="the central service, https://…")
    enroll.add_argument("--code", required=True, help="one-time enrollment code from `vereda-server enroll-code`")
    enroll.add_argument("--force", action="store_true", help="enroll again although already enrolled")
    enroll.add_argument("--allow-http", action="store_true",
                        help="accept plain http to another machine (a lab only: the token would travel in clear)")

    sync = sub.add_parser("sync", help="send pending feedback and install a newer signed model; prints JSON")
    data_dir(sync)
    login(sync)
    sync.add_argument("--batch-size", type=int, default=500, metavar="N", help="records per request (default 500)")
    sync.add_argument("--no-model-update", action="store_true", help="only send feedback")

    usb_export = sub.add_parser("usb-export", help="write pending feedback to one sealed file for the central "
                                "service (clinics that are never online)")
    data_dir(usb_export)
    login(usb_export)
    usb_export.add_argument("--output", metavar="FILE", type=Path, required=True, help="the file to write")

    usb_import = sub.add_parser("usb-import", help="import a signed model bundle archive or a feedback receipt")
    data_dir(usb_import)
    login(usb_import)
    usb_import.add_argument("file", type=Path, help="a model bundle (.tar.gz) or a receipt from the central service")

    rollback = sub.add_parser("model-rollback", help="go back to the previous model (the current one is withdrawn)")
    data_dir(rollback)
    login(rollback)


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


# ---------------------------------------------------------------------------------------------- store commands
# Errors a person fixes by typing something else: exit 2, like invalid diagnose input.
_INVALID_INPUT = frozenset({"passphrase_too_short", "passphrases_differ", "invalid_login", "missing_field",
                            "recovery_key_typo", "no_terminal", "unreadable_file"})


def _say(code: str, lang: str, **params: Any) -> str:
    from app.store.messages import text

    return text(code, lang, **params)


def _data_dir(args: argparse.Namespace) -> Path:
    from app.store import default_data_dir

    return Path(args.data_dir) if args.data_dir else default_data_dir()


def _read_secret_file(path: Path) -> str:
    from app.store import StoreError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError("unreadable_file", path=str(path), detail=getattr(exc, "strerror", None) or str(exc)) from exc
    return lines[0] if lines else ""


def _ask(prompt: str, what: str, option: str, lang: str, secret: bool = False) -> str:
    from app.store import StoreError

    if not sys.stdin.isatty():
        raise StoreError("no_terminal", what=_say(what, lang), option=option)
    return getpass.getpass(prompt) if secret else input(prompt)


def _new_passphrase(login: str, file: Path | None, lang: str) -> str:
    from app.store import MIN_PASSPHRASE, StoreError

    if file is not None:
        return _read_secret_file(file)
    first = _ask(_say("prompt_new_passphrase", lang, login=login, minimum=MIN_PASSPHRASE), "what_passphrase",
                 "--admin-passphrase-file", lang, secret=True)
    again = _ask(_say("prompt_passphrase_again", lang), "what_passphrase", "--admin-passphrase-file", lang,
                 secret=True)
    if first != again:
        raise StoreError("passphrases_differ")
    return first


def _recovery_key(file: Path | None, lang: str) -> str:
    if file is not None:
        return _read_secret_file(file)
    return _ask(_say("prompt_recovery_key", lang), "what_recovery_key", "--recovery-key-file", lang, secret=True)


def _unlock(args: argparse.Namespace, lang: str) -> Any:
    from app.store import ClinicStore, DataFolder

    data_dir = _data_dir(args)
    if args.recovery_key_file is not None:
        return ClinicStore.unlock_with_recovery_key(data_dir, _read_secret_file(args.recovery_key_file))
    DataFolder(data_dir).load_keyring()  # say "not initialised" before asking for a passphrase
    if args.passphrase_file is not None:
        passphrase = _read_secret_file(args.passphrase_file)
    else:
        passphrase = _ask(_say("prompt_passphrase", lang, login=args.user), "what_passphrase", "--passphrase-file",
                          lang, secret=True)
    return ClinicStore.unlock(data_dir, args.user, passphrase)


def _print_recovery_key(recovery_key: str, lang: str) -> None:
    print()
    print(_say("recovery_key_banner", lang))
    print()
    print(f"    {recovery_key}")
    print()


def cmd_init(args: argparse.Namespace) -> int:
    from app.store import ClinicStore, DataFolder, StoreError

    lang = args.lang
    data_dir = _data_dir(args)
    if DataFolder(data_dir).keyring.exists():
        raise StoreError("already_initialised", path=str(data_dir))
    name = args.clinic_name or _ask(_say("prompt_clinic_name", lang), "what_clinic_name", "--clinic-name", lang)
    municipality = args.municipality or _ask(_say("prompt_municipality", lang), "what_municipality",
                                             "--municipality", lang)
    admin_name = args.admin_name or _ask(_say("prompt_admin_name", lang), "what_admin_name", "--admin-name", lang)
    passphrase = _new_passphrase(args.admin_login, args.admin_passphrase_file, lang)
    store, recovery_key = ClinicStore.create(data_dir, clinic_name=name, municipality=municipality,
                                             admin_login=args.admin_login, admin_name=admin_name,
                                             admin_passphrase=passphrase)
    login = store.principal.login
    store.lock(reason="setup")
    print(_say("init_done", lang, name=name.strip(), path=data_dir, login=login))
    _print_recovery_key(recovery_key, lang)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from app.core.engine import DiagnosisEngine
    from app.store import ClinicStore, DataFolder, StoreError
    from app.store.demo import generate_passphrase, populate

    lang = args.lang
    data_dir = _data_dir(args)
    if DataFolder(data_dir).keyring.exists():
        raise StoreError("already_initialised", path=str(data_dir))
    engine = DiagnosisEngine.load(args.bundle)  # before creating anything: a broken bundle leaves no half clinic
    passphrase = generate_passphrase()
    store, recovery_key = ClinicStore.create(
        data_dir, clinic_name="Puesto de salud de demostración", municipality="Demostración", admin_login="admin",
        admin_name="Administración (demo)", admin_passphrase=passphrase)
    store.add_user("doctora", "Dra. Demo", "doctor", passphrase, must_change_passphrase=False)
    store.lock(reason="setup")
    with ClinicStore.unlock(data_dir, "doctora", passphrase) as doctor:
        patients, encounters = populate(doctor, engine.diagnose, max(0, args.patients), seed=args.seed)
    print(_say("demo_done", lang, path=data_dir, patients=patients, encounters=encounters))
    print(_say("demo_login", lang, login="admin", passphrase=passphrase))
    print(_say("demo_login", lang, login="doctora", passphrase=passphrase))
    _print_recovery_key(recovery_key, lang)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from app.store import StoreError
    from app.store.check import CheckReport, CheckResult

    lang = args.lang
    data_dir = _data_dir(args)
    try:
        store = _unlock(args, lang)
    except StoreError as exc:
        if exc.code not in ("database_damaged", "database_unreadable"):
            raise
        # The key was right (it came out of an authenticated wrap) but the file is not: that is the check's answer.
        problem = ("problem.sqlite_message", {"detail": exc.message(lang)})
        report = CheckReport([CheckResult("check.open", [problem])])
    else:
        with store:
            report = store.check()
    if args.json:
        print(_dump(report.to_json(lang), True))
    else:
        print("\n".join(report.lines(lang)))
        failed = len(report.failed)
        print(_say("check_some_failed", lang, count=failed, path=data_dir) if failed
              else _say("check_all_ok", lang, path=data_dir))
    return EXIT_OK if report.ok else EXIT_FAILURE


def cmd_backup(args: argparse.Namespace) -> int:
    lang = args.lang
    with _unlock(args, lang) as store:
        written = store.backup(args.output)
    print(_say("backup_done", lang, path=written, size=f"{written.stat().st_size / 1e6:.1f}"))
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from app.store import restore_backup

    lang = args.lang
    data_dir = _data_dir(args)
    result = restore_backup(args.input, data_dir, _recovery_key(args.recovery_key_file, lang), force=args.force)
    print(_say("restore_done", lang, path=data_dir))
    if result.kept is not None:
        print(_say("restore_kept", lang, path=result.kept))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- sync commands
# The device token never appears in any output: summaries come from Enrollment.public() and SyncResult.to_json().
def _direct(store: Any) -> Any:
    return lambda fn: fn(store)


def cmd_enroll(args: argparse.Namespace) -> int:
    from app.sync.enrollment import enroll

    with _unlock(args, args.lang) as store:
        enrollment = enroll(_direct(store), args.server, args.code, force=args.force, allow_http=args.allow_http)
    print(_dump({"enrolled": True, **enrollment.public()}, True))
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from app.sync.run import run_sync

    data_dir = _data_dir(args)
    with _unlock(args, args.lang) as store:
        result = run_sync(_direct(store), data_dir, batch_size=max(1, args.batch_size),
                          update_models=not args.no_model_update)
    print(_dump(result.to_json(args.lang), True))
    return EXIT_OK if result.reached_service else EXIT_FAILURE


def cmd_usb_export(args: argparse.Namespace) -> int:
    from app.sync.usb import export_feedback

    with _unlock(args, args.lang) as store:
        exported = export_feedback(_direct(store), args.output)
    print(_dump({"file": str(exported.path), "records": exported.count, "unmappable": exported.unmappable}, True))
    return EXIT_OK


def cmd_usb_import(args: argparse.Namespace) -> int:
    from app.sync.usb import import_file

    with _unlock(args, args.lang) as store:
        summary = import_file(_direct(store), args.file, _data_dir(args), lang=args.lang)
    print(_dump(summary, True))
    return EXIT_FAILURE if summary.get("status") == "refused" else EXIT_OK


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from app.sync.run import reconcile_installed
    from app.sync.updates import active_version, rollback

    data_dir = _data_dir(args)
    with _unlock(args, args.lang) as store:
        pointer = rollback(data_dir)
        reconcile_installed(_direct(store), data_dir)
        store.record_sync("model_rollback", {"withdrawn": pointer.withdrawn[-1], "active": active_version(data_dir)})
    print(_dump({"active": active_version(data_dir), "withdrawn": list(pointer.withdrawn)}, True))
    return EXIT_OK


_STORE_COMMANDS = {"init": cmd_init, "demo": cmd_demo, "check": cmd_check, "backup": cmd_backup,
                   "restore": cmd_restore, "enroll": cmd_enroll, "sync": cmd_sync, "usb-export": cmd_usb_export,
                   "usb-import": cmd_usb_import, "model-rollback": cmd_model_rollback}
# Sync errors a person fixes by typing something else.
_INVALID_SYNC_INPUT = frozenset({"invalid_url", "insecure_url", "already_enrolled", "enrollment_code_unknown",
                                 "enrollment_code_used", "enrollment_code_expired", "usb_unreadable",
                                 "usb_invalid_file", "usb_wrong_device"})


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure()
    if args.command in (None, "gui"):
        from app.ui.app import run

        return run(getattr(args, "data_dir", None))
    try:
        if args.command == "diagnose":
            return cmd_diagnose(args)
        if args.command == "self-test":
            from app import selftest

            return selftest.main(args.lang, args.json, screen_only=args.screen_only)
        if args.command in _STORE_COMMANDS:
            from app.store import StoreError
            from app.sync.messages import SyncError

            try:
                return _STORE_COMMANDS[args.command](args)
            except StoreError as exc:
                print(_dump(exc.to_json(args.lang), False), file=sys.stderr)
                return EXIT_INVALID if exc.code in _INVALID_INPUT else EXIT_FAILURE
            except SyncError as exc:
                print(_dump(exc.to_json(args.lang), False), file=sys.stderr)
                return EXIT_INVALID if exc.code in _INVALID_SYNC_INPUT else EXIT_FAILURE
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
