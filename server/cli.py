"""`vereda-server`: run the central service and administer it (enrollment, model registry, signing keys, staff).

    vereda-server serve [--database URL] [--host 127.0.0.1] [--port 8000] [--workers N] [--no-migrate]
    vereda-server migrate [--database URL]       (bring the schema to head and exit: the release's migration job)
    vereda-server enroll-code --clinic NAME [--expires-hours H]
    vereda-server publish-model BUNDLE_DIR --stage staging|production [--public-key PEM]
    vereda-server promote VERSION
    vereda-server device list [--clinic ID] [--json] | revoke DEVICE_ID [--reason TEXT] | tester DEVICE_ID [--off]
    vereda-server models [--json]
    vereda-server export-feedback [--since DATE] [--clinic ID] --out FILE.jsonl
    vereda-server drift [--since DATE] [--clinic ID] --out DIR   (HTML report + JSON summary; server/mlops/drift.py)
    vereda-server jobs [--every N] [--max-age-days D] [--drift-summary JSON] [--run]   (retraining triggers)
    vereda-server keygen --out DIR [--name NAME] [--passphrase-file F]
    vereda-server import-feedback FILE [--receipt RECEIPT]   (a sealed USB file from `vereda usb-export`)
    vereda-server export-model VERSION --out FILE             (the bundle archive, for a USB stick)
    vereda-server report dhis2 --week 2026-W48 [--dry-run] [--output FILE] [--mapping FILE]  (server/reports)
    vereda-server staff add USER [--password-file F] | password USER [--password-file F] | disable USER
                  | enable USER | list [--json]

`publish-model` stores only a bundle whose signature verifies with the trusted key (`--public-key`, else
VEREDA_SERVER_PUBLIC_KEY, else the key the clinics' app pins) and whose version is of the bundle version format
(2026.12.1). `device revoke` ends a laptop's access on every worker and replica at its next request; `device tester`
lets one laptop receive staging bundles before they are promoted.

Promotion to production (`promote`, `publish-model --stage production`) passes the MLOps gate first
(server/mlops/gate.py, issue 8; figures from `python -m model_export gate-evaluate`): refused, exit 2, unless the
candidate beats production on condition macro-F1 on
the held-out evaluation set, keeps recall of critical patients, and passes its check cases.

Admin commands work on the database directly (run them where the service runs, as its user) and migrate it first.
Output is JSON on stdout; errors are `{"error": {...}}` on stderr, never a traceback. Exit codes: 0 success, 2 a
refusal or invalid input the operator can fix, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from app import __version__
from server.commands import accounts
from server.commands import mlops as mlops_commands
from server.commands import reports as report_commands
from server.commands.common import EXIT_FAILURE, EXIT_INVALID, EXIT_OK, UsageError, print_table
from server.commands.common import actor as _actor
from server.commands.common import dump as _dump
from server.commands.common import error_line as _error
from server.commands.common import load_settings as _settings
from server.commands.common import sessions as _sessions
from server.commands.mlops import gate as _gate

log = logging.getLogger(__name__)

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vereda-server", description="Vereda's central service and its admin tools.")
    parser.add_argument("--version", action="version", version=f"vereda-server {__version__}")
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--database", metavar="URL",
                    help="sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB (default: "
                    "VEREDA_SERVER_DATABASE_URL, else a SQLite file in the data folder)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[db], help="run the HTTP service (migrates the database first)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; TLS and public "
                       "exposure belong to a reverse proxy)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--forwarded-allow-ips", metavar="IPS", default=None,
                       help="addresses of reverse proxies whose X-Forwarded-For is trusted (uvicorn's option)")
    serve.add_argument("--no-migrate", action="store_true",
                       help="do not migrate; refuse to start unless the schema is at head (cluster replicas; also "
                       "VEREDA_SERVER_MIGRATE_AT_START=false)")

    sub.add_parser("migrate", parents=[db], help="bring the database schema to head and exit (once per release)")

    code = sub.add_parser("enroll-code", parents=[db], help="print a one-time enrollment code for a clinic")
    code.add_argument("--clinic", required=True, help="clinic name (created on first use)")
    code.add_argument("--expires-hours", type=float, default=None, help="validity (default 72 h)")

    publish = sub.add_parser("publish-model", parents=[db], help="store a signed bundle in the registry")
    publish.add_argument("bundle", type=Path, help="bundle folder (manifest.json, manifest.sig and its files)")
    publish.add_argument("--stage", choices=("staging", "production"), required=True)
    publish.add_argument("--public-key", type=Path, default=None,
                         help="the signature must verify with this key (default: VEREDA_SERVER_PUBLIC_KEY, else the "
                         "key the clinics' app pins); unsigned or otherwise signed bundles are refused")
    publish.add_argument("--by", help="who publishes (default: the login name)")
    publish.add_argument("--gate-simulated", type=int, default=None, metavar="N",
                         help="simulated held-out patients in the promotion gate's evaluation (default 2000)")

    promote = sub.add_parser("promote", parents=[db], help="make a published version the production model")
    promote.add_argument("version")
    promote.add_argument("--by", help="who promotes (default: the login name)")
    promote.add_argument("--reason", help="why, for the registry's history")
    promote.add_argument("--gate-simulated", type=int, default=None, metavar="N",
                         help="simulated held-out patients in the promotion gate's evaluation (default 2000)")

    mlops_commands.add_parsers(sub, db)

    models = sub.add_parser("models", parents=[db], help="list the model registry")
    models.add_argument("--json", action="store_true", help="full JSON instead of a table")

    keygen = sub.add_parser("keygen", help="make an Ed25519 key pair for signing bundles (private key stays offline)")
    keygen.add_argument("--out", type=Path, required=True, help="folder for NAME-private.pem and NAME-public.pem")
    keygen.add_argument("--name", default="vereda", help="file name prefix (default: vereda)")
    keygen.add_argument("--passphrase-file", type=Path, help="encrypt the private key with the first line of this file")
    keygen.add_argument("--force", action="store_true", help="overwrite existing key files")

    imp = sub.add_parser("import-feedback", parents=[db],
                         help="store the feedback of a sealed USB file from a clinic laptop (`vereda usb-export`)")
    imp.add_argument("file", type=Path, help="the sealed feedback file")
    imp.add_argument("--receipt", type=Path, default=None,
                     help="where to write the sealed receipt for the laptop (default: FILE.receipt)")
    export = sub.add_parser("export-model", parents=[db], help="write a published bundle's archive to a file (USB)")
    export.add_argument("version")
    export.add_argument("--out", type=Path, required=True, help="the .tar.gz file to write")

    accounts.add_parsers(sub, db)
    report_commands.add_parsers(sub, db)
    return parser


def _check_fallback_bundle(engine: Any, settings: Any) -> None:
    """With nothing in production the workers answer with the shipped bundle, which they load only if it verifies
    with the trusted key: check it here, so a refusal is one message and exit 2, not a traceback per worker."""
    from app.core.bundle import shipped_bundle_dir
    from server import registry
    from server.db import crud
    from server.db.session import make_sessions

    with make_sessions(engine)() as session:
        if crud.production_model(session) is not None:
            return
    try:
        registry.load_verified(shipped_bundle_dir(), settings.bundle_public_key)
    except registry.RegistryError as exc:
        raise registry.RegistryError(f"{exc}; with no model in production the service answers with the shipped "
                                     "bundle, so it must be signed with the trusted key (VEREDA_SERVER_PUBLIC_KEY) "
                                     "— or publish and promote one that is") from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.core import logs, metrics
    from server.db import migrate
    from server.db.session import make_engine

    settings = _settings(args)
    if args.no_migrate:
        settings = settings.model_copy(update={"migrate_at_start": False})
    logs.configure(settings.log_level)
    if settings.database.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database)
    # Once, before workers start, so a bad URL fails here with one message. A replica told not to migrate only
    # checks the schema: the release's migration job (`vereda-server migrate`) changes it, never a pod at start.
    try:
        revision = migrate.upgrade(engine) if settings.migrate_at_start else migrate.require_head(engine)
    except migrate.SchemaNotReady as exc:
        raise UsageError(str(exc)) from None
    _check_fallback_bundle(engine, settings)
    engine.dispose()
    log.info("database %s at schema %s", engine.url.render_as_string(), revision)
    # Workers build their own app from the environment (uvicorn imports the factory in each process).
    os.environ.update(settings.to_env())
    metrics_dir = None
    if args.workers > 1 and not os.environ.get(metrics.MULTIPROC_ENV):
        metrics_dir = tempfile.mkdtemp(prefix="vereda-metrics-")
        os.environ[metrics.MULTIPROC_ENV] = metrics_dir
    try:
        uvicorn.run(
            "server.main:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
            access_log=False, log_config=None, server_header=False,
            forwarded_allow_ips=args.forwarded_allow_ips, proxy_headers=args.forwarded_allow_ips is not None,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.db import migrate
    from server.db.session import make_engine

    engine = make_engine(_settings(args).database)
    before = migrate.current_revision(engine)
    revision = migrate.upgrade(engine)  # concurrent runs take turns on the advisory lock
    engine.dispose()
    print(_dump({"revision": revision, "previous": before, "migrated": before != revision}))
    return EXIT_OK


def cmd_enroll_code(args: argparse.Namespace) -> int:
    from server.db import crud
    from server.schemas import EnrollmentCodePublic

    settings = _settings(args)
    hours = args.expires_hours if args.expires_hours is not None else settings.enroll_code_hours
    if not 0 < hours <= 24 * 90:
        raise UsageError("--expires-hours must be more than 0 and at most 2160 (90 days)")
    if not args.clinic.strip():
        raise UsageError("--clinic needs a name")
    with _sessions(args)() as session:
        code, clinic, expires = crud.create_enrollment_code(session, args.clinic, hours)
        session.commit()
        out = EnrollmentCodePublic(clinic=clinic.name, clinic_id=clinic.public_id, code=code, expires_at=expires)
    print(out.model_dump_json(indent=2))
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from server import registry
    from server.db import crud

    settings = _settings(args)
    public_key = args.public_key or settings.bundle_public_key
    prepared = registry.prepare(args.bundle, public_key=public_key)
    actor = _actor(args)
    with _sessions(args)() as session:
        model, created = crud.add_model(session, prepared, actor)
        previous = None
        if args.stage == "production":
            reason = _gate(session, model, args)
            model, previous = crud.promote(session, model.version, actor, reason=f"published to production; {reason}")
        session.commit()
        summary = {
            "version": model.version, "stage": model.stage, "created": created,
            "archive": {"sha256": model.archive_sha256, "size": model.archive_size, "format": model.archive_format},
            "signed": model.signature is not None, "signature_verified_with": model.signed_by,
            "replaced": previous.version if previous is not None else None,
        }
    print(_dump(summary))
    return EXIT_OK


def cmd_promote(args: argparse.Namespace) -> int:
    from server.db import crud
    from server.registry import check_version

    check_version(args.version)  # before anything is looked up, unpacked or written
    with _sessions(args)() as session:
        candidate = crud.get_model(session, args.version)
        gate = "no gate"
        if candidate is not None and candidate.stage == "staging":
            gate = _gate(session, candidate, args)
        reason = f"{args.reason}; {gate}" if args.reason else gate
        model, previous = crud.promote(session, args.version, _actor(args), reason=reason)
        session.commit()
        print(_dump({"version": model.version, "stage": model.stage, "promoted_by": model.promoted_by,
                     "promoted_at": model.promoted_at, "replaced": previous.version if previous else None,
                     "gate": (model.metrics or {}).get("gate")}))
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from server.db import crud
    from server.schemas import ModelListItem

    with _sessions(args)() as session:
        items = [ModelListItem.model_validate(m, from_attributes=True) for m in crud.list_models(session)]
    if args.json:
        print(json.dumps([json.loads(i.model_dump_json()) for i in items], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not items:
        print("no models published yet (vereda-server publish-model BUNDLE --stage staging)")
        return EXIT_OK
    from server.mlops.jobs import headline

    header = ("VERSION", "STAGE", "F1", "CRIT.RECALL", "EXPIRES", "SIZE", "SIGNED BY", "PUBLISHED", "PROMOTED")
    rows = [
        (i.version, i.stage, *headline(i.metrics), i.expires, str(i.archive_size), i.signed_by or "-",
         f"{i.published_at:%Y-%m-%d %H:%M} {i.published_by}",
         f"{i.promoted_at:%Y-%m-%d %H:%M} {i.promoted_by}" if i.promoted_at else "-")
        for i in items
    ]
    print_table(header, rows)
    return EXIT_OK


def cmd_keygen(args: argparse.Namespace) -> int:
    from app.core.signing import generate_key_pair, key_fingerprint, load_public_key

    passphrase = None
    if args.passphrase_file:
        lines = args.passphrase_file.read_bytes().splitlines()
        passphrase = lines[0] if lines else b""
        if len(passphrase) < 12:
            raise UsageError("the passphrase must have at least 12 characters")
    private_path = args.out / f"{args.name}-private.pem"
    public_path = args.out / f"{args.name}-public.pem"
    existing = [str(p) for p in (private_path, public_path) if p.exists()]
    if existing and not args.force:
        raise UsageError(f"{', '.join(existing)} already exist; use --force to replace them (the old key is lost)")
    private_pem, public_pem = generate_key_pair(passphrase)
    args.out.mkdir(parents=True, exist_ok=True)
    # The private key is created 0600 from the first byte, never world-readable even for a moment.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem)
    os.chmod(private_path, 0o600)
    public_path.write_bytes(public_pem)
    print(_dump({"private_key": str(private_path), "public_key": str(public_path),
                 "fingerprint": key_fingerprint(load_public_key(public_pem)), "encrypted": passphrase is not None}))
    return EXIT_OK


def cmd_import_feedback(args: argparse.Namespace) -> int:
    from server.usb_files import UsbFileError, import_feedback_file

    try:
        settings = _settings(args)
        summary = import_feedback_file(_sessions(args), settings.bundle_cache, args.file, args.receipt,
                                       public_key=settings.bundle_public_key)
    except UsbFileError as exc:
        raise UsageError(str(exc)) from None
    print(_dump(summary))
    return EXIT_OK


def cmd_export_model(args: argparse.Namespace) -> int:
    from server.usb_files import UsbFileError, export_model

    try:
        print(_dump(export_model(_sessions(args), args.version, args.out)))
    except UsbFileError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK


COMMANDS = {
    "serve": cmd_serve, "enroll-code": cmd_enroll_code, "publish-model": cmd_publish, "promote": cmd_promote,
    "models": cmd_models, "keygen": cmd_keygen, "migrate": cmd_migrate,
}
COMMANDS.update({"import-feedback": cmd_import_feedback, "export-model": cmd_export_model})
COMMANDS.update(mlops_commands.COMMANDS)
COMMANDS.update(accounts.COMMANDS)
COMMANDS.update(report_commands.COMMANDS)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from server.core import logs
    from server.core.config import SettingsError
    from server.mlops.build_tools import BuildToolsError
    from server.mlops.drift import MissingExtra
    from server.registry import RegistryError

    logs.configure("WARNING" if args.command != "serve" else "INFO")
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except (UsageError, RegistryError, SettingsError, MissingExtra) as exc:
        # By type, never by class name: what the operator can fix (exit 2), and the code that names it.
        code = ("registry_refused" if isinstance(exc, RegistryError) else "invalid_settings"
                if isinstance(exc, SettingsError) else "missing_extra" if isinstance(exc, MissingExtra)
                else "invalid_usage")
        print(_error(code, str(exc)), file=sys.stderr)
        return EXIT_INVALID
    except BuildToolsError as exc:
        print(_error("build_tools_failed", str(exc)), file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # the last line of defence: a message, not a traceback
        from sqlalchemy.exc import OperationalError

        from app.core.signing import SignatureError

        if isinstance(exc, SignatureError):
            print(_error("signature_error", str(exc)), file=sys.stderr)
            return EXIT_INVALID
        if isinstance(exc, OperationalError):
            print(_error("database_unavailable", f"cannot use the database: {exc.orig}"), file=sys.stderr)
            return EXIT_FAILURE
        # ERROR, with the traceback: the level is WARNING here, and a crash is what an operator must be able to report.
        log.error("vereda-server %s failed", args.command, exc_info=True)
        print(_error("internal_error", f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
