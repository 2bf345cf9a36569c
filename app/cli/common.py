"""What every `vereda` command shares: exit codes, JSON output, the error mapping, the clinic folder and unlocking.

Exit codes: 0 success; 2 the person can fix it by typing something else (invalid diagnose input, a wrong option, a
typo in the recovery key; the error JSON is on stderr); 1 anything else (a message, never a traceback, on stderr;
the traceback goes to the log at ERROR). Which is which is decided by the error's type and its catalog's
`USER_FIXABLE` codes, never by matching class names.

Secrets (passphrases, the recovery key) are asked for on the terminal or read from a file (`--passphrase-file`,
`--recovery-key-file`; first line, nothing else), never taken from the command line, where other users of the laptop
could read them in the process list.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.store import ClinicStore

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2
Subparsers = argparse._SubParsersAction  # argparse has no public name for the object add_subparsers returns


def default_lang() -> str:
    lang = os.environ.get("VEREDA_LANG", "es").lower()[:2]
    return lang if lang in ("es", "en") else "es"


def dump(obj: Any, pretty: bool = False) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2 if pretty else None)


def error_json(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "field": field, "message": message}}


def print_json(obj: Any, pretty: bool = True) -> None:
    print(dump(obj, pretty))


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of an error a person can read (2 if they can fix it by typing something else, else 1);
    None for an error that is not ours to explain (a bug: logged with its traceback)."""
    from app.core.messages import LocalisedError

    if isinstance(exc, LocalisedError):
        return EXIT_INVALID if exc.user_fixable else EXIT_FAILURE
    return None


# ------------------------------------------------------------------------------------------------ clinic folder
def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR", type=Path, default=None,
                        help="the clinic's data folder (default: the per-user data folder)")


def add_login(parser: argparse.ArgumentParser, default_user: str = "admin") -> None:
    parser.add_argument("--user", default=default_user, help=f"who unlocks the database (default: {default_user})")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--passphrase-file", metavar="FILE", type=Path, help="read the passphrase from FILE")
    who.add_argument("--recovery-key-file", metavar="FILE", type=Path,
                     help="use the recovery key in FILE instead (emergency access, logged)")


def data_dir(args: argparse.Namespace) -> Path:
    from app.store import default_data_dir

    return Path(args.data_dir) if getattr(args, "data_dir", None) else default_data_dir()


def say(code: str, lang: str, **params: Any) -> str:
    from app.store.messages import text

    return text(code, lang, **params)


def read_secret_file(path: Path) -> str:
    from app.store import StoreError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError("unreadable_file", path=str(path), detail=getattr(exc, "strerror", None) or str(exc)) from exc
    return lines[0] if lines else ""


def ask(prompt: str, what: str, option: str, lang: str, secret: bool = False) -> str:
    from app.store import StoreError

    if not sys.stdin.isatty():
        raise StoreError("no_terminal", what=say(what, lang), option=option)
    return getpass.getpass(prompt) if secret else input(prompt)


def new_passphrase(login: str, file: Path | None, lang: str, option: str = "--admin-passphrase-file") -> str:
    from app.store import MIN_PASSPHRASE, StoreError

    if file is not None:
        return read_secret_file(file)
    first = ask(say("prompt_new_passphrase", lang, login=login, minimum=MIN_PASSPHRASE), "what_passphrase", option,
                lang, secret=True)
    again = ask(say("prompt_passphrase_again", lang), "what_passphrase", option, lang, secret=True)
    if first != again:
        raise StoreError("passphrases_differ")
    return first


def recovery_key(file: Path | None, lang: str) -> str:
    if file is not None:
        return read_secret_file(file)
    return ask(say("prompt_recovery_key", lang), "what_recovery_key", "--recovery-key-file", lang, secret=True)


def unlock(args: argparse.Namespace) -> ClinicStore:
    from app.store import ClinicStore, DataFolder

    lang = args.lang
    folder = data_dir(args)
    if args.recovery_key_file is not None:
        return ClinicStore.unlock_with_recovery_key(folder, read_secret_file(args.recovery_key_file))
    DataFolder(folder).load_keyring()  # say "not initialised" before asking for a passphrase
    if args.passphrase_file is not None:
        passphrase = read_secret_file(args.passphrase_file)
    else:
        passphrase = ask(say("prompt_passphrase", lang, login=args.user), "what_passphrase", "--passphrase-file",
                         lang, secret=True)
    return ClinicStore.unlock(folder, args.user, passphrase)


def direct(store: ClinicStore) -> Any:
    """A `call_store` for the sync functions when the caller already is the only user of the store."""
    return lambda fn: fn(store)
