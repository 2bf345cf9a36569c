"""`vereda user add|list|disable|enable|reset-passphrase`: the administrator manages the clinic's accounts.

The administrator unlocks with their own passphrase (`--user`, `--passphrase-file`) or the recovery key
(`--recovery-key-file`, emergency access); every change is in the audit log. The new account's first passphrase
(or a reset one) is temporary: its owner must choose their own at the next login.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import EXIT_OK, Subparsers, add_data_dir, add_login, new_passphrase, print_json, unlock

if TYPE_CHECKING:
    from app.store.records import UserRecord

ROLES = ("doctor", "nurse", "admin")


def register(sub: Subparsers) -> None:
    user = sub.add_parser("user", help="the clinic's accounts (administrator): add, list, disable, enable, "
                          "reset-passphrase")
    actions = user.add_subparsers(dest="user_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        add_data_dir(p)
        add_login(p)

    def temporary(p: argparse.ArgumentParser) -> None:
        p.add_argument("--new-passphrase-file", metavar="FILE", type=Path,
                       help="read the account's temporary passphrase from FILE (else asked twice)")

    add = actions.add_parser("add", help="a new account (a doctor by default)")
    common(add)
    add.add_argument("login", help="the new account's user name")
    add.add_argument("--name", required=True, help="full name as it appears on referral letters")
    add.add_argument("--role", choices=ROLES, default="doctor", help="doctor (default), nurse or admin")
    temporary(add)
    add.set_defaults(handler=cmd_add)

    listing = actions.add_parser("list", help="every account, active or not")
    common(listing)
    listing.set_defaults(handler=cmd_list)

    disable = actions.add_parser("disable", help="stop an account from logging in (it is never deleted)")
    common(disable)
    disable.add_argument("login")
    disable.set_defaults(handler=cmd_disable)

    enable = actions.add_parser("enable", help="let a disabled account log in again, with a temporary passphrase")
    common(enable)
    enable.add_argument("login")
    temporary(enable)
    enable.set_defaults(handler=cmd_enable)

    reset = actions.add_parser("reset-passphrase", help="give an account a temporary passphrase")
    common(reset)
    reset.add_argument("login")
    temporary(reset)
    reset.set_defaults(handler=cmd_reset)


def _account(user: UserRecord) -> dict[str, Any]:
    return {"login": user.login, "name": user.display_name, "role": user.role, "active": bool(user.active),
            "must_change_passphrase": bool(user.must_change_passphrase)}


def cmd_add(args: argparse.Namespace) -> int:
    with unlock(args) as store:
        passphrase = new_passphrase(args.login, args.new_passphrase_file, args.lang, "--new-passphrase-file")
        user = store.users.add(args.login, args.name, args.role, passphrase)
        print_json({"added": _account(user)})
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    with unlock(args) as store:
        print_json({"users": [_account(u) for u in store.users.list()]})
    return EXIT_OK


def cmd_disable(args: argparse.Namespace) -> int:
    with unlock(args) as store:
        store.users.disable(store.users.by_login(args.login).id)
        print_json({"disabled": args.login})
    return EXIT_OK


def cmd_enable(args: argparse.Namespace) -> int:
    with unlock(args) as store:
        user_id = store.users.by_login(args.login).id
        store.users.enable(user_id, new_passphrase(args.login, args.new_passphrase_file, args.lang,
                                                   "--new-passphrase-file"))
        print_json({"enabled": args.login, "must_change_passphrase": True})
    return EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    with unlock(args) as store:
        user_id = store.users.by_login(args.login).id
        store.users.reset_passphrase(user_id, new_passphrase(args.login, args.new_passphrase_file, args.lang,
                                                             "--new-passphrase-file"))
        print_json({"reset": args.login, "must_change_passphrase": True})
    return EXIT_OK
