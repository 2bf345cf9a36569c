"""Commands that talk to the central service or carry its files: `enroll`, `sync`, `usb-export`, `usb-import`,
`model-rollback`. The device token never appears in any output: summaries come from Enrollment.public() and
SyncResult.to_json()."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    Subparsers,
    add_data_dir,
    add_login,
    data_dir,
    direct,
    print_json,
    unlock,
)


def register(sub: Subparsers) -> None:
    enroll = sub.add_parser("enroll", help="enroll this laptop with the central service (one-time code)")
    add_data_dir(enroll)
    add_login(enroll)
    enroll.add_argument("--server", metavar="URL", required=True, help="the central service, https://…")
    enroll.add_argument("--code", required=True, help="one-time enrollment code from `vereda-server enroll-code`")
    enroll.add_argument("--force", action="store_true", help="enroll again although already enrolled")
    enroll.add_argument("--allow-http", action="store_true",
                        help="accept plain http to another machine (a lab only: the token would travel in clear)")
    enroll.set_defaults(handler=cmd_enroll)

    sync = sub.add_parser("sync", help="send pending feedback and install a newer signed model; prints JSON")
    add_data_dir(sync)
    add_login(sync)
    sync.add_argument("--batch-size", type=int, default=500, metavar="N", help="records per request (default 500)")
    sync.add_argument("--no-model-update", action="store_true", help="only send feedback")
    sync.set_defaults(handler=cmd_sync)

    usb_export = sub.add_parser("usb-export", help="write pending feedback to one sealed file for the central "
                                "service (clinics that are never online)")
    add_data_dir(usb_export)
    add_login(usb_export)
    usb_export.add_argument("--output", metavar="FILE", type=Path, required=True, help="the file to write")
    usb_export.set_defaults(handler=cmd_usb_export)

    usb_import = sub.add_parser("usb-import", help="import a signed model bundle archive or a feedback receipt")
    add_data_dir(usb_import)
    add_login(usb_import)
    usb_import.add_argument("file", type=Path,
                            help="a model bundle (.tar.gz) or a receipt from the central service")
    usb_import.set_defaults(handler=cmd_usb_import)

    rollback = sub.add_parser("model-rollback", help="go back to the previous model (the current one is withdrawn)")
    add_data_dir(rollback)
    add_login(rollback)
    rollback.set_defaults(handler=cmd_model_rollback)


def cmd_enroll(args: argparse.Namespace) -> int:
    from app.sync.enrollment import enroll

    with unlock(args) as store:
        enrollment = enroll(direct(store), args.server, args.code, force=args.force, allow_http=args.allow_http)
    print_json({"enrolled": True, **enrollment.public()})
    return EXIT_OK


def cmd_sync(args: argparse.Namespace) -> int:
    from app.sync.run import run_sync

    with unlock(args) as store:
        result = run_sync(direct(store), data_dir(args), batch_size=max(1, args.batch_size),
                          update_models=not args.no_model_update)
    print_json(result.to_json(args.lang))
    return EXIT_OK if result.reached_service else EXIT_FAILURE


def cmd_usb_export(args: argparse.Namespace) -> int:
    from app.sync.usb import export_feedback

    with unlock(args) as store:
        exported = export_feedback(direct(store), args.output)
    print_json({"file": str(exported.path), "records": exported.count, "unmappable": exported.unmappable})
    return EXIT_OK


def cmd_usb_import(args: argparse.Namespace) -> int:
    from app.sync.usb import import_file

    with unlock(args) as store:
        summary = import_file(direct(store), args.file, data_dir(args), lang=args.lang)
    print_json(summary)
    return EXIT_FAILURE if summary.get("status") == "refused" else EXIT_OK


def cmd_model_rollback(args: argparse.Namespace) -> int:
    from app.sync.run import reconcile_installed
    from app.sync.updates import active_version, rollback

    folder = data_dir(args)
    with unlock(args) as store:
        pointer = rollback(folder)
        reconcile_installed(direct(store), folder)
        store.audit.record_sync("model_rollback", {"withdrawn": pointer.withdrawn[-1],
                                                   "active": active_version(folder)})
    print_json({"active": active_version(folder), "withdrawn": list(pointer.withdrawn)})
    return EXIT_OK
