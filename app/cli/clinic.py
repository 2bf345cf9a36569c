"""IT staff's clinic commands: `init`, `demo`, `check`, `backup`, `restore`, on a clinic's data folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    Subparsers,
    add_data_dir,
    add_login,
    ask,
    data_dir,
    dump,
    new_passphrase,
    recovery_key,
    say,
    unlock,
)


def register(sub: Subparsers) -> None:
    init = sub.add_parser("init", help="create the encrypted clinic database (first run)")
    add_data_dir(init)
    init.add_argument("--clinic-name", help="the clinic's name (asked if missing)")
    init.add_argument("--municipality", help="the clinic's municipality (asked if missing)")
    init.add_argument("--admin-login", default="admin", help="administrator's user name (default: admin)")
    init.add_argument("--admin-name", help="administrator's full name (asked if missing)")
    init.add_argument("--admin-passphrase-file", metavar="FILE", type=Path,
                      help="read the administrator's passphrase from FILE (for scripts)")
    init.set_defaults(handler=cmd_init)

    demo = sub.add_parser("demo", help="create a demo clinic with synthetic patients and print its passphrase")
    add_data_dir(demo)
    demo.add_argument("--patients", type=int, default=50, metavar="N", help="synthetic patients (default: 50)")
    demo.add_argument("--seed", type=int, default=None, help="random seed, for a reproducible demo")
    demo.add_argument("--bundle", metavar="DIR", type=Path, help="model bundle folder (default: the shipped one)")
    demo.set_defaults(handler=cmd_demo)

    check = sub.add_parser("check", help="verify encryption, integrity and the audit log of the clinic database")
    add_data_dir(check)
    add_login(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=cmd_check)

    backup = sub.add_parser("backup", help="write an encrypted backup file (restorable with the recovery key)")
    add_data_dir(backup)
    add_login(backup)
    backup.add_argument("--output", metavar="FILE", type=Path, required=True, help="the backup file to write")
    backup.set_defaults(handler=cmd_backup)

    restore = sub.add_parser("restore", help="restore an encrypted backup with the recovery key")
    add_data_dir(restore)
    restore.add_argument("--input", metavar="FILE", type=Path, required=True, help="the backup file")
    restore.add_argument("--recovery-key-file", metavar="FILE", type=Path, help="read the recovery key from FILE")
    restore.add_argument("--force", action="store_true",
                         help="replace a newer or different database (it is kept aside, never deleted)")
    restore.set_defaults(handler=cmd_restore)


def print_recovery_key(key: str, lang: str) -> None:
    print()
    print(say("recovery_key_banner", lang))
    print()
    print(f"    {key}")
    print()


def cmd_init(args: argparse.Namespace) -> int:
    from app.store import ClinicStore
    from app.store.setup import building, check_target

    lang = args.lang
    folder = data_dir(args)
    check_target(folder)  # before asking anything
    name = args.clinic_name or ask(say("prompt_clinic_name", lang), "what_clinic_name", "--clinic-name", lang)
    municipality = args.municipality or ask(say("prompt_municipality", lang), "what_municipality",
                                            "--municipality", lang)
    admin_name = args.admin_name or ask(say("prompt_admin_name", lang), "what_admin_name", "--admin-name", lang)
    passphrase = new_passphrase(args.admin_login, args.admin_passphrase_file, lang)
    # Built beside the folder and renamed into place once locked: a crash or a full disk leaves no half clinic.
    with building(folder) as staging:
        store, key = ClinicStore.create(staging, clinic_name=name, municipality=municipality,
                                        admin_login=args.admin_login, admin_name=admin_name,
                                        admin_passphrase=passphrase)
        login = store.principal.login
        store.lock(reason="setup")
    print(say("init_done", lang, name=name.strip(), path=folder, login=login))
    print_recovery_key(key, lang)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from app.core.engine import DiagnosisEngine
    from app.store import ClinicStore
    from app.store.demo import generate_passphrase, populate
    from app.store.setup import building, check_target

    lang = args.lang
    folder = data_dir(args)
    check_target(folder)
    engine = DiagnosisEngine.load(args.bundle)  # before creating anything: a broken bundle leaves no half clinic
    passphrase = generate_passphrase()
    # The whole demo, patients included, is built beside the folder and renamed into place at the end: the
    # passphrase is printed only then, so a demo killed halfway must not be left where it looks usable.
    with building(folder) as staging:
        store, key = ClinicStore.create(
            staging, clinic_name="Puesto de salud de demostración", municipality="Demostración",
            admin_login="admin", admin_name="Administración (demo)", admin_passphrase=passphrase)
        store.users.add("doctora", "Dra. Demo", "doctor", passphrase, must_change_passphrase=False)
        store.lock(reason="setup")
        with ClinicStore.unlock(staging, "doctora", passphrase) as doctor:
            patients, encounters = populate(doctor, engine.diagnose, max(0, args.patients), seed=args.seed)
    print(say("demo_done", lang, path=folder, patients=patients, encounters=encounters))
    print(say("demo_login", lang, login="admin", passphrase=passphrase))
    print(say("demo_login", lang, login="doctora", passphrase=passphrase))
    print_recovery_key(key, lang)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from app.store import StoreError
    from app.store.check import CheckReport, CheckResult

    lang = args.lang
    folder = data_dir(args)
    try:
        store = unlock(args)
    except StoreError as exc:
        if exc.code not in ("database_damaged", "database_unreadable", "database_empty", "database_foreign"):
            raise
        # The key was right (it came out of an authenticated wrap) but the file is not: that is the check's answer.
        # After a crash the store ran the whole check before refusing; that report says more than one line.
        found: CheckReport | None = getattr(exc, "report", None)
        problem = ("problem.sqlite_message", {"detail": exc.message(lang)})
        report = found if found is not None else CheckReport([CheckResult("check.open", [problem])])
    else:
        with store:
            report = store.check()
    if args.json:
        print(dump(report.to_json(lang), True))
    else:
        print("\n".join(report.lines(lang)))
        failed = len(report.failed)
        print(say("check_some_failed", lang, count=failed, path=folder) if failed
              else say("check_all_ok", lang, path=folder))
    return EXIT_OK if report.ok else EXIT_FAILURE


def cmd_backup(args: argparse.Namespace) -> int:
    lang = args.lang
    with unlock(args) as store:
        written = store.backup(args.output)
    print(say("backup_done", lang, path=written, size=f"{written.stat().st_size / 1e6:.1f}"))
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from app.store import ClinicStore

    lang = args.lang
    folder = data_dir(args)
    result = ClinicStore.restore(args.input, folder, recovery_key(args.recovery_key_file, lang), force=args.force)
    print(say("restore_done", lang, path=folder))
    if result.kept is not None:
        print(say("restore_kept", lang, path=result.kept))
    return EXIT_OK
