"""`vereda export`: the clinic's records in the health system's formats (app/interop).

    vereda export fhir (--encounter ID ... | --since DATE [--until DATE]) --output FILE [--type transaction]
                       [--referral-pdf LETTER.pdf]
    vereda export phenopacket --encounter ID --output FILE
    vereda export xlsx --output FILE [--since DATE] [--until DATE] [--deidentified]
    vereda export csv --table patients|encounters --output FILE [--since DATE] [--until DATE] [--deidentified]
    vereda export notifications [--week 2026-W48] --output FILE.pdf|FILE.json [--notifiable LIST.toml]

Dates are UTC days (YYYY-MM-DD); --until is exclusive. Each export is one entry in the audit log. On success a JSON
summary goes to stdout; errors follow common.py (exit 2 for what the person can fix by typing something else).
The FHIR export attaches a referral letter's PDF when given one (the PDF the app's "Save PDF" wrote): the letter is
typeset by Qt in the app, which this command does not start.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.common import EXIT_OK, Subparsers, add_data_dir, add_login, data_dir, print_json, unlock

if TYPE_CHECKING:
    from app.core.vocabulary import Vocabulary
    from app.store import ClinicStore
    from app.store.records import EncounterRecord, PatientRecord


def register(sub: Subparsers) -> None:
    export = sub.add_parser("export", help="export records: FHIR R4, phenopacket, xlsx/csv, notifiable diseases")
    kinds = export.add_subparsers(dest="export_kind", required=True)

    fhir = kinds.add_parser("fhir", help="closed encounters as a FHIR R4 Bundle (JSON)")
    _common(fhir)
    which = fhir.add_mutually_exclusive_group(required=True)
    which.add_argument("--encounter", metavar="ID", action="append", help="an encounter id (repeatable)")
    which.add_argument("--since", metavar="DATE", help="encounters closed on or after DATE (YYYY-MM-DD, UTC)")
    fhir.add_argument("--until", metavar="DATE", help="... and before DATE (exclusive; with --since)")
    fhir.add_argument("--type", choices=("collection", "transaction"), default="collection",
                      help="collection (a file to hand over, the default) or transaction (to POST to a server)")
    fhir.add_argument("--referral-pdf", metavar="FILE", type=Path,
                      help="the referral letter (PDF) of the one --encounter: adds ServiceRequest+DocumentReference")
    fhir.set_defaults(handler=cmd_fhir)

    packet = kinds.add_parser("phenopacket", help="a GA4GH Phenopacket v2 (JSON) of an encounter, for a referral "
                              "to a genetics centre when the rare-disease alert fired")
    _common(packet)
    packet.add_argument("--encounter", metavar="ID", required=True)
    packet.set_defaults(handler=cmd_phenopacket)

    for kind in ("xlsx", "csv"):
        sheet = kinds.add_parser(kind, help=f"the patient register and the encounters of a period as {kind}")
        _common(sheet)
        if kind == "csv":
            sheet.add_argument("--table", choices=("patients", "encounters"), required=True)
        sheet.add_argument("--since", metavar="DATE", help="encounters closed on or after DATE (YYYY-MM-DD, UTC)")
        sheet.add_argument("--until", metavar="DATE", help="encounters closed before DATE (exclusive)")
        sheet.add_argument("--deidentified", action="store_true",
                           help="no names, documents, birth dates, villages, phones, notes or store ids")
        sheet.set_defaults(handler=cmd_spreadsheet, spreadsheet=kind)

    notes = kinds.add_parser("notifications", help="the week's notifiable-disease report (PDF or JSON)")
    _common(notes)
    notes.add_argument("--week", metavar="YYYY-Www", help="ISO week (default: the current one)")
    notes.add_argument("--notifiable", metavar="FILE", type=Path,
                       help="the list of notifiable diseases (default: the clinic's notifiable.toml, else shipped)")
    notes.set_defaults(handler=cmd_notifications)


def _common(parser: argparse.ArgumentParser) -> None:
    add_data_dir(parser)
    add_login(parser)
    parser.add_argument("--output", metavar="FILE", type=Path, required=True, help="the file to write")
    parser.add_argument("--bundle", metavar="DIR", type=Path,
                        help="model bundle whose vocabulary names the codes (default: the one the app uses)")


# -------------------------------------------------------------------------------------------------- helpers
def _day(value: str | None, field: str) -> dt.datetime | None:
    from app.interop.messages import InteropError

    if value is None:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
    except ValueError as exc:
        raise InteropError("invalid_date", field=field, value=value) from exc


def _period(args: argparse.Namespace) -> tuple[dt.datetime | None, dt.datetime | None]:
    from app.interop.messages import InteropError

    since, until = _day(getattr(args, "since", None), "--since"), _day(getattr(args, "until", None), "--until")
    if since and until and since > until:
        raise InteropError("invalid_period", since=args.since, until=args.until)
    return since, until


def _bundle_dir(args: argparse.Namespace) -> Path:
    from app.sync.updates import active_bundle_dir

    return Path(args.bundle) if args.bundle else active_bundle_dir(data_dir(args))


def _vocabulary(args: argparse.Namespace) -> Vocabulary:
    from app.core.bundle import ModelBundle

    return ModelBundle.load(_bundle_dir(args)).vocabulary


def _write(target: Path, data: bytes | str) -> Path:
    from app.core.files import write_atomic
    from app.interop.messages import InteropError

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only and atomic, like every file Vereda writes with patients in it: a half-written export after a
        # full disk or a crash must not pass for a whole one.
        write_atomic(target, data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as exc:
        raise InteropError("unwritable_file", path=str(target), detail=exc.strerror or str(exc)) from exc
    return target


def _read(path: Path) -> bytes:
    from app.interop.messages import InteropError

    try:
        return path.read_bytes()
    except OSError as exc:
        raise InteropError("unreadable_file", path=str(path), detail=exc.strerror or str(exc)) from exc


def _encounters(store: ClinicStore, args: argparse.Namespace) -> list[EncounterRecord]:
    from app.interop.messages import InteropError

    if getattr(args, "encounter", None):
        ids = args.encounter if isinstance(args.encounter, list) else [args.encounter]
        out = []
        for encounter_id in ids:
            record = store.encounters.get(encounter_id)
            if record.status != "closed":
                raise InteropError("encounter_not_closed", encounter=encounter_id)
            out.append(record)
        return out
    since, until = _period(args)
    return store.encounters.closed(since, until)


def _patients(store: ClinicStore, encounters: list[EncounterRecord]) -> dict[str, PatientRecord]:
    if len({e.patient_id for e in encounters}) <= 5:  # a referral or two: open those records only
        return {pid: store.patients.get(pid) for pid in {e.patient_id for e in encounters}}
    return {p.id: p for p in store.patients.register()}


def _summary(args: argparse.Namespace, **extra: Any) -> int:
    print_json({"output": str(args.output), "bytes": args.output.stat().st_size, **extra})
    return EXIT_OK


# ------------------------------------------------------------------------------------------------- commands
def cmd_fhir(args: argparse.Namespace) -> int:
    import json

    from app.interop.fhir import FhirExport, Referral, paused_gc
    from app.interop.messages import InteropError

    if args.referral_pdf is not None and (not args.encounter or len(args.encounter) != 1):
        raise InteropError("referral_needs_one_encounter")
    vocabulary = _vocabulary(args)
    referral = Referral(_read(args.referral_pdf)) if args.referral_pdf is not None else None
    with unlock(args) as store:
        encounters = _encounters(store, args)
        patients = _patients(store, encounters)
        if referral is not None and (encounters[0].response or {}).get("rare_disease_alert"):
            referral = _with_phenopacket(args, referral, patients[encounters[0].patient_id], encounters[0])
        with paused_gc():
            export = FhirExport(vocabulary, store.clinic, lang=args.lang, bundle_type=args.type)
            for e in encounters:
                export.add(patients[e.patient_id], e, referral)
            data = export.to_json()  # fhirclient validates every resource here
        store.audit.record_export("fhir", {"encounters": len(encounters), "type": args.type,
                                           "referral": referral is not None})
    _write(args.output, json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return _summary(args, encounters=len(encounters), resources=len(data.get("entry", [])), type=args.type)


def _with_phenopacket(args: argparse.Namespace, referral: Any, person: PatientRecord,
                      record: EncounterRecord) -> Any:
    """The referral of a case whose rare-disease alert fired carries its phenopacket too."""
    import dataclasses

    from app.interop import phenopacket

    bundle_dir = _bundle_dir(args)
    packet = phenopacket.build(person, record, _vocabulary(args),
                               hpo_version=phenopacket.hpo_version_of_bundle(bundle_dir),
                               term_labels=phenopacket.term_labels_from_bundle(bundle_dir))
    return dataclasses.replace(referral, phenopacket=phenopacket.to_json(packet).encode("utf-8"))


def cmd_phenopacket(args: argparse.Namespace) -> int:
    from app.interop import phenopacket

    bundle_dir = _bundle_dir(args)
    vocabulary = _vocabulary(args)
    with unlock(args) as store:
        [record] = _encounters(store, args)
        person = store.patients.get(record.patient_id)
        store.audit.record_export("phenopacket", {"encounter": record.id})
    packet = phenopacket.build(person, record, vocabulary, hpo_version=phenopacket.hpo_version_of_bundle(bundle_dir),
                               term_labels=phenopacket.term_labels_from_bundle(bundle_dir))
    _write(args.output, phenopacket.to_json(packet))
    return _summary(args, encounter=record.id, rare_disease_alert=phenopacket.rare_alert_fired(record),
                    features=len(packet.phenotypic_features), interpretations=len(packet.interpretations))


def cmd_spreadsheet(args: argparse.Namespace) -> int:
    from app.interop import notifiable, spreadsheets

    since, until = _period(args)
    vocabulary = _vocabulary(args)
    diseases = notifiable.load(data_dir=data_dir(args))
    pseudonyms = spreadsheets.Pseudonyms()
    tables = []
    with unlock(args) as store:
        register = store.patients.register()
        encounters = store.encounters.closed(since, until)
        by_id = {p.id: p for p in register}
        if args.spreadsheet == "xlsx" or args.table == "patients":
            tables.append(spreadsheets.patient_table(register, deidentified=args.deidentified, pseudonyms=pseudonyms))
        if args.spreadsheet == "xlsx" or args.table == "encounters":
            rows = spreadsheets.encounter_rows(encounters, by_id, vocabulary, args.lang, diseases.__contains__)
            tables.append(spreadsheets.encounter_table(rows, deidentified=args.deidentified, pseudonyms=pseudonyms))
        store.audit.record_export(args.spreadsheet, {"tables": [t.title for t in tables],
                                                     "deidentified": args.deidentified,
                                                     "rows": sum(len(t.rows) for t in tables)})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.spreadsheet == "xlsx":
        spreadsheets.write_xlsx(tables, args.output)
    else:
        spreadsheets.write_csv(tables[0], args.output)
    return _summary(args, tables={t.title: len(t.rows) for t in tables}, deidentified=args.deidentified)


def cmd_notifications(args: argparse.Namespace) -> int:
    import json

    from app.interop import notifiable

    week = args.week or notifiable.week_of(dt.datetime.now(dt.UTC).date())
    monday, next_monday = notifiable.parse_week(week)
    diseases = notifiable.load(args.notifiable, data_dir(args))
    start = dt.datetime.combine(monday, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(next_monday, dt.time(), tzinfo=dt.UTC)
    with unlock(args) as store:
        encounters = store.encounters.closed(start, end)
        wanted = [e for e in encounters if e.final_code in diseases]
        patients = {pid: store.patients.get(pid) for pid in {e.patient_id for e in wanted}}
        found = notifiable.cases(wanted, patients, diseases)
        report = notifiable.weekly_report(store.clinic, week, found, diseases)
        store.audit.record_export("notifications", {"week": week, "cases": len(found)})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.output.suffix.lower() == ".json":
        _write(args.output, json.dumps(report, ensure_ascii=False, indent=2))
    else:
        notifiable.write_report_pdf(report, diseases, args.output, args.lang)
    return _summary(args, week=week, cases=len(found),
                    immediate=sum(1 for c in found if c.disease.immediate))
