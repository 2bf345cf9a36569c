"""`vereda-server staff` (accounts of the browser page) and `device` (enrolled clinic laptops)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from server.commands.common import EXIT_OK, UsageError, actor, dump, print_table, sessions


def add_parsers(sub: Any, db: argparse.ArgumentParser) -> None:
    """This group's subcommands, on `vereda-server`'s subparsers (`db`: the shared --database option)."""
    device = sub.add_parser("device", help="enrolled clinic laptops: list, revoke, testers")
    device_sub = device.add_subparsers(dest="device_command", required=True)
    device_list = device_sub.add_parser("list", parents=[db], help="list the devices (revoked ones too)")
    device_list.add_argument("--clinic", metavar="ID", help="one clinic's public id")
    device_list.add_argument("--json", action="store_true", help="JSON instead of a table")
    revoke = device_sub.add_parser("revoke", parents=[db], help="end a device's access now, on every worker")
    revoke.add_argument("device_id", metavar="DEVICE_ID", type=int)
    revoke.add_argument("--reason", default="revoked by an administrator", help="why, for the list (stolen, retired)")
    revoke.add_argument("--by", help="who revokes (default: the login name)")
    tester = device_sub.add_parser("tester", parents=[db], help="let a device receive staging bundles (--off: stop)")
    tester.add_argument("device_id", metavar="DEVICE_ID", type=int)
    tester.add_argument("--off", action="store_true", help="the device gets production bundles only again")

    staff = sub.add_parser("staff", help="staff accounts of the browser page (/app)")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    password_help = ("read the password from the first line of this file (default: ask twice on the terminal); "
                     "at least 10 characters")
    add = staff_sub.add_parser("add", parents=[db], help="create an account")
    add.add_argument("username", metavar="USER")
    add.add_argument("--password-file", type=Path, help=password_help)
    passwd = staff_sub.add_parser("password", parents=[db], help="set a new password (ends the user's sessions)")
    passwd.add_argument("username", metavar="USER")
    passwd.add_argument("--password-file", type=Path, help=password_help)
    disable = staff_sub.add_parser("disable", parents=[db], help="disable an account and end its sessions now")
    disable.add_argument("username", metavar="USER")
    enable = staff_sub.add_parser("enable", parents=[db], help="enable a disabled account again")
    enable.add_argument("username", metavar="USER")
    staff_list = staff_sub.add_parser("list", parents=[db], help="list the accounts")
    staff_list.add_argument("--json", action="store_true", help="JSON instead of a table")


def _new_password(args: argparse.Namespace) -> str:
    if args.password_file:
        lines = args.password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password on; use --password-file FILE")
    first = getpass.getpass(f"New password for {args.username}: ")
    if getpass.getpass("Once more: ") != first:
        raise UsageError("the two passwords differ; nothing was changed")
    return first


def _staff_public(user: Any) -> dict[str, Any]:
    from server.schemas import StaffPublic

    public = StaffPublic(username=user.username, enabled=user.disabled_at is None, created_at=user.created_at,
                         password_changed_at=user.password_changed_at, last_login_at=user.last_login_at,
                         disabled_at=user.disabled_at)
    shown: dict[str, Any] = json.loads(public.model_dump_json())
    return shown


def cmd_staff(args: argparse.Namespace) -> int:
    from server.db import staff_accounts

    try:
        if args.staff_command in ("add", "password"):
            staff_accounts.normalise_username(args.username)  # a bad name is refused before the password is asked for
            password = _new_password(args)
        with sessions(args)() as session:
            if args.staff_command == "list":
                users = [_staff_public(u) for u in staff_accounts.list_staff(session)]
                return _print_staff(users, args.json)
            out: dict[str, Any]
            if args.staff_command == "add":
                out = _staff_public(staff_accounts.add_staff(session, args.username, password))
            elif args.staff_command == "password":
                user, ended = staff_accounts.set_staff_password(session, args.username, password)
                out = {**_staff_public(user), "sessions_ended": ended}
            elif args.staff_command == "disable":
                user, ended = staff_accounts.disable_staff(session, args.username)
                out = {**_staff_public(user), "sessions_ended": ended}
            else:
                out = _staff_public(staff_accounts.enable_staff(session, args.username))
            session.commit()
    except staff_accounts.StaffError as exc:
        raise UsageError(str(exc)) from None
    print(dump(out))
    return EXIT_OK


def _print_staff(users: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print(dump(users))
        return EXIT_OK
    if not users:
        print("no staff accounts yet (vereda-server staff add USER)")
        return EXIT_OK
    header = ("USER", "STATE", "CREATED", "LAST LOGIN")
    rows = [(u["username"], "enabled" if u["enabled"] else "disabled", u["created_at"][:16].replace("T", " "),
             (u["last_login_at"] or "-")[:16].replace("T", " ")) for u in users]
    print_table(header, rows)
    return EXIT_OK


def _device_public(device: Any) -> dict[str, Any]:
    from server.schemas import DevicePublic

    public = DevicePublic(
        device_id=device.id, clinic_id=device.clinic.public_id, clinic_name=device.clinic.name,
        created_at=device.created_at, revoked_at=device.revoked_at, revoked_reason=device.revoked_reason,
        replaced_by=device.replaced_by_id, tester=device.tester, audit_seq=device.audit_seq,
        audit_hash=device.audit_hash, audit_reported_at=device.audit_reported_at, audit_alert=device.audit_alert,
        audit_alert_at=device.audit_alert_at,
    )
    shown: dict[str, Any] = json.loads(public.model_dump_json())
    return shown


def cmd_device(args: argparse.Namespace) -> int:
    from server.db import crud

    try:
        with sessions(args)() as session:
            if args.device_command == "list":
                return _print_devices([_device_public(d) for d in crud.list_devices(session, args.clinic)],
                                      args.json)
            if args.device_command == "revoke":
                device = crud.revoke_device(session, args.device_id, f"{args.reason} ({actor(args)})")
            else:
                device = crud.set_tester(session, args.device_id, not args.off)
            session.commit()
            out = _device_public(device)
    except crud.DeviceError as exc:
        raise UsageError(str(exc)) from None
    print(dump(out))
    return EXIT_OK


def _print_devices(devices: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print(dump(devices))
        return EXIT_OK
    if not devices:
        print("no devices enrolled yet (vereda-server enroll-code --clinic NAME)")
        return EXIT_OK
    header = ("ID", "CLINIC", "STATE", "ENROLLED", "LAST AUDIT HEAD", "ALERT")
    rows = [
        (str(d["device_id"]), d["clinic_id"],
         f"revoked {d['revoked_at'][:10]}" if d["revoked_at"] else "tester" if d["tester"] else "active",
         d["created_at"][:16].replace("T", " "),
         f"{d['audit_seq']} at {d['audit_reported_at'][:16].replace('T', ' ')}" if d["audit_reported_at"] else "-",
         d["audit_alert"] or "-")
        for d in devices
    ]
    print_table(header, rows)
    return EXIT_OK


COMMANDS = {"staff": cmd_staff, "device": cmd_device}
