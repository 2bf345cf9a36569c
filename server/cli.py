"""`vereda-server`: run the central service and administer it (enrollment, model registry, signing keys, staff).

    vereda-server serve [--database URL] [--host 127.0.0.1] [--port 8000] [--workers N]
    vereda-server enroll-code --clinic NAME [--expires-hours H]
    vereda-server publish-model BUNDLE_DIR --stage staging|production [--public-key PEM]
    vereda-server promote VERSION
    vereda-server device list [--clinic ID] [--json] | revoke DEVICE_ID [--reason TEXT] | tester DEVICE_ID [--off]
    vereda-server models [--json]
    vereda-server export-feedback [--since DATE] [--clinic ID] --out FILE.jsonl
    vereda-server drift [--since DATE] [--clinic ID] --out DIR         (HTML report + JSON summary; server/drift.py)
    vereda-server jobs [--every N] [--max-age-days D] [--drift-summary JSON] [--run]   (retraining triggers)
    vereda-server keygen --out DIR [--name NAME] [--passphrase-file F]
    vereda-server import-feedback FILE [--receipt RECEIPT]   (a sealed USB file from `vereda usb-export`)
    vereda-server export-model VERSION --out FILE             (the bundle archive, for a USB stick)
    vereda-server staff add USER [--password-file F] | password USER [--password-file F] | disable USER
                  | enable USER | list [--json]

`publish-model` stores only a bundle whose signature verifies with the trusted key (`--public-key`, else
VEREDA_SERVER_PUBLIC_KEY, else the key the clinics' app pins) and whose version is of the bundle version format
(2026.12.1). `device revoke` ends a laptop's access on every worker and replica at its next request; `device tester`
lets one laptop receive staging bundles before they are promoted.

Promotion to production (`promote`, `publish-model --stage production`) passes the MLOps gate first
(model_export.mlops.gate, issue 8): refused, exit 2, unless the candidate beats production on condition macro-F1 on
the held-out evaluation set, keeps recall of critical patients, and passes its check cases.

Admin commands work on the database directly (run them where the service runs, as its user) and migrate it first.
Output is JSON on stdout; errors are `{"error": {...}}` on stderr, never a traceback. Exit codes: 0 success, 2 a
refusal or invalid input the operator can fix, 1 anything else.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from app import __version__

log = logging.getLogger("vereda.server.cli")

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """Something the operator asked that cannot be done as asked; the message says what to do instead."""


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str)


def _error(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "field": None, "message": message}}, ensure_ascii=False)


def _actor(args: argparse.Namespace) -> str:
    if getattr(args, "by", None):
        return str(args.by)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


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

    exp = sub.add_parser("export-feedback", parents=[db], help="write confirmed feedback as JSONL (for retraining)")
    exp.add_argument("--since", metavar="DATE", help="received on or after this ISO date")
    exp.add_argument("--clinic", metavar="ID", help="one clinic's public id")
    exp.add_argument("--out", type=Path, required=True)

    drift = sub.add_parser("drift", parents=[db], help="drift report of received feedback against the training data")
    drift.add_argument("--since", metavar="DATE", help="feedback received on or after this ISO date")
    drift.add_argument("--clinic", metavar="ID", help="one clinic's public id")
    drift.add_argument("--out", type=Path, required=True, help="folder for drift.html and drift.json")
    drift.add_argument("--bundle", type=Path, default=None, help="compare with this bundle (default: production)")
    drift.add_argument("--reference-n", type=int, default=None, help="simulated reference patients (default <= 5000)")

    jobs = sub.add_parser("jobs", parents=[db], help="check the retraining triggers; --run retrains when one fires")
    jobs.add_argument("--every", type=int, default=500, help="retrain after N new confirmed cases (default 500)")
    jobs.add_argument("--max-age-days", type=int, default=90, help="retrain when production is older (default 90)")
    jobs.add_argument("--drift-summary", type=Path, default=None, help="drift.json of the last `drift` run")
    jobs.add_argument("--workdir", type=Path, default=Path("retrain"), help="where exports and candidates go")
    jobs.add_argument("--version", default=None, help="candidate version (default: today's date)")
    jobs.add_argument("--scale", type=float, default=1.0, help="retrain's --scale")
    jobs.add_argument("--run", action="store_true", help="run the retrain commands when a trigger fires")

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
    return parser


def _settings(args: argparse.Namespace) -> Any:
    from server.core.config import Settings

    return Settings.load(database_url=getattr(args, "database", None))


def _sessions(args: argparse.Namespace) -> Any:
    from server.db import migrate
    from server.db.session import make_engine, make_sessions

    engine = make_engine(_settings(args).database)
    migrate.upgrade(engine)
    return make_sessions(engine, write=True)


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
    logs.configure(settings.log_level)
    if settings.database.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database)
    revision = migrate.upgrade(engine)  # once, before workers start, so a bad URL fails here with one message
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


def _gate(session: Any, model: Any, args: argparse.Namespace) -> str:
    """Run the promotion gate; record its verdict with the model; raise RegistryError (exit 2) when it refuses."""
    from server import mlops
    from server.registry import RegistryError

    settings = _settings(args)
    decision = mlops.run_gate(session, model, settings.bundle_cache, settings.bundle_public_key, args.gate_simulated)
    mlops.record_gate(model, decision)
    if not decision.accepted:
        session.commit()  # the refusal and its figures stay in the registry for `models --json`
        raise RegistryError(f"promotion of {model.version} refused by the gate: " + " | ".join(decision.reasons))
    return "gate: " + "; ".join(decision.reasons)


def cmd_export_feedback(args: argparse.Namespace) -> int:
    from server import mlops

    try:
        since = mlops.parse_since(args.since)
    except ValueError:
        raise UsageError("--since must be an ISO date, e.g. 2026-11-01") from None
    with _sessions(args)() as session:
        n = mlops.export_feedback(session, args.out, since, args.clinic)
    print(_dump({"records": n, "out": str(args.out)}))
    return EXIT_OK


def cmd_drift(args: argparse.Namespace) -> int:
    from server import drift, mlops
    from server.db import crud

    try:
        since = mlops.parse_since(args.since)
    except ValueError:
        raise UsageError("--since must be an ISO date, e.g. 2026-11-01") from None
    with _sessions(args)() as session:
        feedback = mlops.load_feedback(session, since, args.clinic)
        bundle = args.bundle
        if bundle is None:
            production = crud.production_model(session)
            if production is None:
                raise UsageError("no production model to compare with; pass --bundle DIR")
            settings = _settings(args)
            bundle = mlops.bundle_dir(session, production, settings.bundle_cache, settings.bundle_public_key)
    summary = drift.compute(feedback, bundle, args.reference_n)
    files = drift.write_report(summary, args.out)
    print(_dump({"flag": summary["flag"], "reasons": summary["reasons"], "n_feedback": summary["n_feedback"],
                 "agreement": summary["agreement"], "prediction_psi": summary["prediction"]["psi"], **files}))
    return EXIT_OK


def cmd_jobs(args: argparse.Namespace) -> int:
    import datetime as dt

    from server import mlops

    with _sessions(args)() as session:
        state = mlops.triggers(session, args.every, args.max_age_days, args.drift_summary)
    version = args.version or f"{dt.date.today():%Y.%m.%d}"
    commands = mlops.retrain_commands(getattr(args, "database", None), args.workdir, version, args.scale)
    state["commands"] = [" ".join(c) for c in commands] if state["fired"] else []
    if state["fired"] and args.run:
        args.workdir.mkdir(parents=True, exist_ok=True)
        state["ran"] = mlops.run_commands(commands)
        state["next"] = (f"sign {args.workdir}/candidate-{version} (python -m model_export sign), publish it to "
                         "staging, then `vereda-server promote` (the gate decides)")
    print(_dump(state))
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
    from server.mlops import headline

    header = ("VERSION", "STAGE", "F1", "CRIT.RECALL", "EXPIRES", "SIZE", "SIGNED BY", "PUBLISHED", "PROMOTED")
    rows = [
        (i.version, i.stage, *headline(i.metrics), i.expires, str(i.archive_size), i.signed_by or "-",
         f"{i.published_at:%Y-%m-%d %H:%M} {i.published_by}",
         f"{i.promoted_at:%Y-%m-%d %H:%M} {i.promoted_by}" if i.promoted_at else "-")
        for i in items
    ]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
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
    return json.loads(public.model_dump_json())  # type: ignore[no-any-return]


def cmd_staff(args: argparse.Namespace) -> int:
    from server.db import crud

    try:
        if args.staff_command in ("add", "password"):
            crud.normalise_username(args.username)  # a bad name is refused before the password is asked for
            password = _new_password(args)
        with _sessions(args)() as session:
            if args.staff_command == "list":
                users = [_staff_public(u) for u in crud.list_staff(session)]
                return _print_staff(users, args.json)
            out: dict[str, Any]
            if args.staff_command == "add":
                out = _staff_public(crud.add_staff(session, args.username, password))
            elif args.staff_command == "password":
                user, ended = crud.set_staff_password(session, args.username, password)
                out = {**_staff_public(user), "sessions_ended": ended}
            elif args.staff_command == "disable":
                user, ended = crud.disable_staff(session, args.username)
                out = {**_staff_public(user), "sessions_ended": ended}
            else:
                out = _staff_public(crud.enable_staff(session, args.username))
            session.commit()
    except crud.StaffError as exc:
        raise UsageError(str(exc)) from None
    print(_dump(out))
    return EXIT_OK


def _print_staff(users: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print(_dump(users))
        return EXIT_OK
    if not users:
        print("no staff accounts yet (vereda-server staff add USER)")
        return EXIT_OK
    header = ("USER", "STATE", "CREATED", "LAST LOGIN")
    rows = [(u["username"], "enabled" if u["enabled"] else "disabled", u["created_at"][:16].replace("T", " "),
             (u["last_login_at"] or "-")[:16].replace("T", " ")) for u in users]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
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
    return json.loads(public.model_dump_json())  # type: ignore[no-any-return]


def cmd_device(args: argparse.Namespace) -> int:
    from server.db import crud

    try:
        with _sessions(args)() as session:
            if args.device_command == "list":
                return _print_devices([_device_public(d) for d in crud.list_devices(session, args.clinic)],
                                      args.json)
            if args.device_command == "revoke":
                device = crud.revoke_device(session, args.device_id, f"{args.reason} ({_actor(args)})")
            else:
                device = crud.set_tester(session, args.device_id, not args.off)
            session.commit()
            out = _device_public(device)
    except crud.DeviceError as exc:
        raise UsageError(str(exc)) from None
    print(_dump(out))
    return EXIT_OK


def _print_devices(devices: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print(_dump(devices))
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
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
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
    "models": cmd_models, "keygen": cmd_keygen, "staff": cmd_staff, "device": cmd_device,
}
COMMANDS.update({"import-feedback": cmd_import_feedback, "export-model": cmd_export_model,
                 "export-feedback": cmd_export_feedback, "drift": cmd_drift, "jobs": cmd_jobs})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from server.core import logs
    from server.core.config import SettingsError
    from server.registry import RegistryError

    logs.configure("WARNING" if args.command != "serve" else "INFO")
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except (UsageError, RegistryError, SettingsError) as exc:
        code = {"RegistryError": "registry_refused", "SettingsError": "invalid_settings"}.get(
            type(exc).__name__, "invalid_usage")
        print(_error(code, str(exc)), file=sys.stderr)
        return EXIT_INVALID
    except Exception as exc:  # the last line of defence: a message, not a traceback
        from sqlalchemy.exc import OperationalError

        from app.core.signing import SignatureError

        if isinstance(exc, SignatureError):
            print(_error("signature_error", str(exc)), file=sys.stderr)
            return EXIT_INVALID
        if isinstance(exc, OperationalError):
            print(_error("database_unavailable", f"cannot use the database: {exc.orig}"), file=sys.stderr)
            return EXIT_FAILURE
        log.debug("vereda-server %s failed", args.command, exc_info=True)
        print(_error("internal_error", f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
