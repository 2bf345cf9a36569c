"""`vereda self-test`: IT staff's proof that this copy of Vereda works on this laptop, from source or packaged.

It checks, in order, what a doctor's first consultation would need: the shipped model bundle (signature against the
pinned public key, files against the manifest), the diagnosis of the origin document's five cases and of the
bundle's own check cases, an encrypted database made, filled, locked, unlocked and found unreadable without its key,
and one screen (the consultation, with case 4) drawn to a PNG. Each check prints one line as it finishes; the
command exits 0 only when every check passed.

The screen is drawn in a child process (`vereda self-test --screen-only`): when Qt cannot load a platform plugin it
aborts the whole process, and the report must still say which check failed and why. With no display (a server, CI,
an SSH session) that child uses Qt's offscreen platform. Qt is imported only there, lazily, so the other checks run
on a machine with no graphics libraries at all.

The origin document's five cases and the bundle's own check cases (`checks.json`, pinned in its signed manifest) are
the ones a model update must pass before it is installed: both come from app/core/check_cases.py, so the self-test
and the update client can never judge a bundle differently.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import __version__

if TYPE_CHECKING:
    from app.core.bundle import ModelBundle
    from app.core.check_cases import CheckCase
    from app.core.engine import DiagnosisEngine

log = logging.getLogger(__name__)

SCREEN_CASE = 3  # index of the origin document's case 4, the one the consultation screen shows

# A cheap key derivation: this database lives for a second in a temp folder; the real one uses the default cost.
SELFTEST_KDF = {"n": 2**14, "r": 8, "p": 1}
SCREEN_TIMEOUT_S = 120.0
DIAGNOSE_TIMEOUT_S = 30.0

TEXT: dict[str, dict[str, str]] = {
    "title": {"es": "Vereda {version}: autoprueba ({where}) · {system} · Python {python}",
              "en": "Vereda {version}: self-test ({where}) · {system} · Python {python}"},
    "packaged": {"es": "programa empaquetado", "en": "packaged program"},
    "source": {"es": "código fuente", "en": "source tree"},
    "ok": {"es": "BIEN ", "en": "OK   "},
    "failed": {"es": "FALLA", "en": "FAIL "},
    "summary_ok": {"es": "Resultado: las {total} comprobaciones pasaron.",
                   "en": "Result: all {total} checks passed."},
    "summary_failed": {"es": "Resultado: {failed} de {total} comprobaciones fallaron. Detalles en {log}",
                       "en": "Result: {failed} of {total} checks failed. Details in {log}"},
    "bundle.signature": {"es": "Firma del paquete de modelos ({path})", "en": "Model bundle signature ({path})"},
    "signature_ok": {"es": "válida con la clave fijada {fingerprint} ({key})",
                     "en": "valid for the pinned key {fingerprint} ({key})"},
    "dev_key": {"es": "OJO: es la clave de DESARROLLO; un instalador para clínicas debe llevar la de la organización",
                "en": "NOTE: this is the DEVELOPMENT key; an installer for clinics must carry the organisation's own"},
    "bundle.files": {"es": "Archivos del paquete de modelos", "en": "Model bundle files"},
    "files_ok": {"es": "versión {version}, creado {created}, vence {expires}; {count} archivos coinciden con el "
                       "manifiesto",
                 "en": "version {version}, created {created}, expires {expires}; {count} files match the manifest"},
    "expired": {"es": "OJO: el modelo venció; actualícelo (vereda sync o USB). Sigue funcionando.",
                "en": "NOTE: the model has expired; update it (vereda sync or USB). It keeps working."},
    "engine.load": {"es": "Motor de diagnóstico (onnxruntime)", "en": "Diagnosis engine (onnxruntime)"},
    "engine_ok": {"es": "modelos {models} cargados", "en": "models {models} loaded"},
    "rare.index": {"es": "Índice de enfermedades raras", "en": "Rare-disease index"},
    "rare_ok": {"es": "versión {version}, {count} enfermedades", "en": "version {version}, {count} diseases"},
    "origin_case": {"es": "Caso {n} del documento de origen", "en": "Origin document case {n}"},
    "case_result": {"es": "{state} (se espera {expected} o más urgente); atención inmediata: {attention}{need}",
                    "en": "{state} (expected {expected} or more urgent); immediate attention: {attention}{need}"},
    "need_attention": {"es": " (obligatoria)", "en": " (required)"},
    "yes": {"es": "sí", "en": "yes"},
    "no": {"es": "no", "en": "no"},
    "bundle_cases": {"es": "Casos de control del paquete ({file})", "en": "Bundle check cases ({file})"},
    "bundle_cases_none": {"es": "el paquete no trae casos de control", "en": "the bundle carries no check cases"},
    "bundle_cases_unsigned": {"es": "{file} no está en el manifiesto: la firma no lo cubre y no se usa",
                              "en": "{file} is not in the manifest: the signature does not cover it, not used"},
    "bundle_cases_ok": {"es": "{count} casos correctos", "en": "{count} cases passed"},
    "bundle_case_failed": {"es": "caso {problem}", "en": "case {problem}"},
    "store.encrypted": {"es": "Base de datos cifrada (SQLCipher) en una carpeta temporal",
                        "en": "Encrypted database (SQLCipher) in a temporary folder"},
    "store_ok": {"es": "creada, paciente guardado, bloqueada, desbloqueada y leída; sqlite3 sin clave no puede "
                       "leerla ({cipher})",
                 "en": "created, patient saved, locked, unlocked and read back; plain sqlite3 cannot read it "
                       "({cipher})"},
    "screen.consultation": {"es": "Pantalla de consulta dibujada ({platform})",
                            "en": "Consultation screen drawn ({platform})"},
    "screen_ok": {"es": "caso 4 → {state}; imagen {width}×{height} PNG de {size} bytes; catálogo Qt «{catalog}» {qt}",
                  "en": "case 4 → {state}; {width}×{height} PNG image of {size} bytes; Qt catalog '{catalog}' {qt}"},
    "loaded": {"es": "cargado", "en": "loaded"},
    "missing": {"es": "NO encontrado", "en": "NOT found"},
    "error": {"es": "error: {error}", "en": "error: {error}"},
    "screen_crashed": {"es": "el proceso de dibujo terminó con código {code} sin informe: {stderr}",
                       "en": "the drawing process ended with code {code} and no report: {stderr}"},
}


def say(key: str, lang: str, /, **params: Any) -> str:
    texts = TEXT[key]
    return (texts.get(lang) or texts["es"]).format(**params)


@dataclass
class CheckResult:
    """One line of the report. `id` is stable (scripts read the JSON); `message` is in the requested language."""

    id: str
    title: str
    ok: bool
    message: str
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "ok": self.ok, "message": self.message, "notes": self.notes,
                "data": self.data, "seconds": round(self.seconds, 3)}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CheckResult:
        return cls(str(raw["id"]), str(raw["title"]), bool(raw["ok"]), str(raw["message"]),
                   [str(n) for n in raw.get("notes", [])], dict(raw.get("data", {})), float(raw.get("seconds", 0)))


class _Failed(Exception):
    """A check found a problem it can describe (no traceback needed)."""


def _timed(check_id: str, title: str, body: Callable[[], tuple[str, list[str], dict[str, Any]]]) -> CheckResult:
    start = time.perf_counter()
    try:
        message, notes, data = body()
        ok = True
    except _Failed as exc:
        message, notes, data, ok = str(exc), [], {}, False
        log.warning("self-test %s failed: %s", check_id, exc)
    except Exception as exc:  # any other failure is this check's failure, not the end of the report
        message, notes, data, ok = f"{type(exc).__name__}: {exc}", [], {}, False
        log.exception("self-test %s failed", check_id)
    return CheckResult(check_id, title, ok, message, notes, data, time.perf_counter() - start)


def is_packaged() -> bool:
    return bool(getattr(sys, "frozen", False))


# ------------------------------------------------------------------------------------------------------ the bundle
def check_signature(bundle_dir: Path, lang: str) -> CheckResult:
    from app.core.signing import (
        is_development_key,
        key_fingerprint,
        load_public_key,
        pinned_public_key_path,
        verify_bundle,
    )

    def body() -> tuple[str, list[str], dict[str, Any]]:
        key_path = pinned_public_key_path()
        key = load_public_key(key_path)
        verify_bundle(bundle_dir, key)
        fingerprint = key_fingerprint(key)
        development = is_development_key(key)
        notes = [say("dev_key", lang)] if development else []
        return (say("signature_ok", lang, fingerprint=fingerprint, key=key_path.name), notes,
                {"key": str(key_path), "fingerprint": fingerprint, "development_key": development})

    return _timed("bundle.signature", say("bundle.signature", lang, path=bundle_dir), body)


def check_bundle_files(bundle_dir: Path, lang: str, loaded: list[ModelBundle]) -> CheckResult:
    from app.core.bundle import ModelBundle

    def body() -> tuple[str, list[str], dict[str, Any]]:
        bundle = ModelBundle.load(bundle_dir)
        loaded.append(bundle)
        manifest = bundle.manifest
        notes = [say("expired", lang)] if bundle.expired() else []
        return (say("files_ok", lang, version=bundle.version, created=manifest.get("created", "?"),
                    expires=manifest.get("expires", "?"), count=len(manifest["files"])), notes,
                {"version": bundle.version, "expires": manifest.get("expires"), "files": sorted(manifest["files"]),
                 "expired": bundle.expired()})

    return _timed("bundle.files", say("bundle.files", lang), body)


def check_engine(bundle: ModelBundle, lang: str, loaded: list[DiagnosisEngine]) -> CheckResult:
    from app.core.engine import DiagnosisEngine

    def body() -> tuple[str, list[str], dict[str, Any]]:
        engine = DiagnosisEngine(bundle)
        loaded.append(engine)
        models = sorted(bundle.manifest["models"])
        return say("engine_ok", lang, models=", ".join(models)), [], {"models": models}

    return _timed("engine.load", say("engine.load", lang), body)


def check_rare_index(bundle: ModelBundle, lang: str) -> CheckResult | None:
    """Only for bundles that declare a rare-disease index (manifest key `rare`)."""
    if not bundle.manifest.get("rare"):
        return None

    def body() -> tuple[str, list[str], dict[str, Any]]:
        from app.core.rare import RareDiseaseRanker

        ranker = RareDiseaseRanker.load(bundle.path)
        count = getattr(ranker, "n_diseases", "?")
        return say("rare_ok", lang, version=ranker.version, count=count), [], {"version": ranker.version}

    return _timed("rare.index", say("rare.index", lang), body)


# ------------------------------------------------------------------------------------------------------ diagnosis
def origin_cases() -> tuple[CheckCase, ...]:
    from app.core.check_cases import ORIGIN_CASES

    return ORIGIN_CASES


def check_origin_cases(engine: DiagnosisEngine, lang: str) -> list[CheckResult]:
    from app.core.vocabulary import urgency

    results = []
    for n, case in enumerate(origin_cases(), start=1):

        def body(case: CheckCase = case) -> tuple[str, list[str], dict[str, Any]]:
            response = engine.diagnose(case.request)
            state, attention = response["severity"], bool(response["requires_immediate_attention"])
            needs_attention = bool(case.requires_immediate_attention)
            text = say("case_result", lang, state=state, expected=case.severity_at_least,
                       attention=say("yes" if attention else "no", lang),
                       need=say("need_attention", lang) if needs_attention else "")
            if urgency(state) < urgency(case.severity_at_least) or (needs_attention and not attention):
                raise _Failed(text)
            return text, [], {"symptoms": case.request["symptoms"], "severity": state,
                              "expected": case.severity_at_least, "requires_immediate_attention": attention,
                              "red_flags": [f["code"] for f in response["red_flags"]]}

        results.append(_timed(f"case.origin.{n}", say("origin_case", lang, n=n), body))
    return results


def check_bundle_cases(engine: DiagnosisEngine, lang: str) -> CheckResult:
    from app.core.check_cases import CHECKS_FILE, CheckCasesError, failures, load_cases

    bundle = engine.bundle

    def body() -> tuple[str, list[str], dict[str, Any]]:
        if not (bundle.path / CHECKS_FILE).is_file():
            return say("bundle_cases_none", lang), [], {"cases": 0}
        if CHECKS_FILE not in bundle.manifest["files"]:
            raise _Failed(say("bundle_cases_unsigned", lang, file=CHECKS_FILE))
        try:
            cases = load_cases(bundle.path)  # its sha256 was checked against the signed manifest on load
        except CheckCasesError as exc:
            raise _Failed(str(exc)) from exc
        failed = failures(engine, cases)
        if failed:
            raise _Failed("; ".join(say("bundle_case_failed", lang, problem=f) for f in failed))
        return say("bundle_cases_ok", lang, count=len(cases)), [], {"cases": len(cases)}

    return _timed("cases.bundle", say("bundle_cases", lang, file=CHECKS_FILE), body)


# ------------------------------------------------------------------------------------------------------ the store
def _sqlcipher_version() -> str:
    import sqlcipher3

    conn = sqlcipher3.connect(":memory:")
    try:
        row = conn.execute("PRAGMA cipher_version").fetchone()
    finally:
        conn.close()
    return str(row[0]) if row else "?"


def check_store(lang: str) -> CheckResult:
    def body() -> tuple[str, list[str], dict[str, Any]]:
        from app.store import ClinicStore, KdfParams

        passphrase = secrets.token_urlsafe(24)
        family = f"Autoprueba{secrets.token_hex(4)}"  # a marker to look for in the raw file
        with tempfile.TemporaryDirectory(prefix="vereda-selftest-", ignore_cleanup_errors=True) as tmp:
            data_dir = Path(tmp) / "clinic"
            store, _recovery_key = ClinicStore.create(
                data_dir, clinic_name="Autoprueba", municipality="Autoprueba", admin_login="autoprueba",
                admin_name="Autoprueba", admin_passphrase=passphrase, kdf=KdfParams(**SELFTEST_KDF))
            try:
                patient_id = store.patients.add(given_names="Paciente", family_names=family, sex="F").id
            finally:
                store.lock("self-test")
            with ClinicStore.unlock(data_dir, "autoprueba", passphrase) as again:
                if again.patients.get(patient_id).family_names != family:
                    raise _Failed("the patient read back differs from the one saved")
            db_files = [p for p in data_dir.iterdir() if p.name.startswith("vereda.db")]
            if not db_files:
                raise _Failed(f"no database file in {data_dir}")
            for path in db_files:
                if family.encode() in path.read_bytes():
                    raise _Failed(f"{path.name} holds the patient's name in clear")
            database = data_dir / "vereda.db"
            plain = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
            try:
                plain.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.DatabaseError:
                pass  # what encryption looks like to sqlite3: "file is not a database"
            else:
                raise _Failed(f"plain sqlite3 can read {database}: it is not encrypted")
            finally:
                plain.close()
        cipher = _sqlcipher_version()
        return say("store_ok", lang, cipher=f"SQLCipher {cipher}"), [], {"sqlcipher": cipher}

    return _timed("store.encrypted", say("store.encrypted", lang), body)


# ------------------------------------------------------------------------------------------------------ the screen
def _has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def screen_platform() -> str:
    """The Qt platform the screen check will use: what the environment asks for, else offscreen with no display."""
    return os.environ.get("QT_QPA_PLATFORM") or ("" if _has_display() else "offscreen")


def _child_command() -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    if is_packaged():
        program = Path(sys.executable)
        cli = program.with_name("vereda-cli.exe")  # Windows: vereda.exe is the windowed app, without a console
        command = [str(cli if cli.is_file() else program)]
    else:
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        command = [sys.executable, "-m", "app.cli"]
    return command, env


def check_screen(lang: str) -> CheckResult:
    """Draw the consultation screen in a child process (see the module docstring for why)."""
    chosen = screen_platform()
    title = say("screen.consultation", lang, platform=chosen or "display")
    command, env = _child_command()
    if chosen:
        env["QT_QPA_PLATFORM"] = chosen
    start = time.perf_counter()
    try:
        child = subprocess.run([*command, "--lang", lang, "self-test", "--screen-only", "--json"],
                               capture_output=True, text=True, env=env, timeout=SCREEN_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.exception("self-test screen child did not run")
        return CheckResult("screen.consultation", title, False, say("error", lang, error=exc),
                           seconds=time.perf_counter() - start)
    for line in reversed(child.stdout.splitlines()):
        if line.startswith("{"):
            try:
                report = json.loads(line)
                result = CheckResult.from_json(report["checks"][0])
            except (ValueError, KeyError, IndexError):
                continue
            result.seconds = time.perf_counter() - start
            return result
    stderr = " | ".join(child.stderr.strip().splitlines()[-6:])
    log.error("self-test screen child ended with %s: %s", child.returncode, child.stderr)
    return CheckResult("screen.consultation", title, False,
                       say("screen_crashed", lang, code=child.returncode, stderr=stderr or "-"),
                       seconds=time.perf_counter() - start)


def render_screen(lang: str, out_dir: Path) -> CheckResult:
    """Draw the consultation screen with case 4 in this process (Qt is imported here) and save it as a PNG."""
    chosen = screen_platform()
    if chosen:
        os.environ["QT_QPA_PLATFORM"] = chosen

    def body() -> tuple[str, list[str], dict[str, Any]]:
        from app.core.engine import DiagnosisEngine
        from app.ui.consultation import ConsultationWidget
        from app.ui.i18n import translator
        from app.ui.qt import QApplication, QLibraryInfo, QTranslator
        from app.ui.tasks import TaskManager

        app = QApplication.instance() or QApplication(["vereda"])
        translator().set_language(lang)
        catalog = f"qtbase_{lang}"
        qt_loaded = QTranslator().load(catalog, QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))
        engine = DiagnosisEngine.load(_active_bundle_dir())
        tasks = TaskManager()
        widget = ConsultationWidget(engine, tasks)
        try:
            widget.resize(1280, 800)
            widget.age.set_years(origin_cases()[SCREEN_CASE].request["age"])
            responses: list[dict[str, Any]] = []
            widget.diagnosed.connect(lambda _request, response: responses.append(response))
            widget.symptom_model.set_intensities(origin_cases()[SCREEN_CASE].request["symptoms"])
            widget.diagnose()
            deadline = time.monotonic() + DIAGNOSE_TIMEOUT_S
            while not responses and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.005)
            if not responses:
                raise _Failed(f"no diagnosis on screen after {DIAGNOSE_TIMEOUT_S:.0f} s")
            pixmap = widget.grab()
            path = out_dir / "consultation.png"
            if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
                raise _Failed("the screen could not be drawn to an image")
            size = path.stat().st_size if path.is_file() else 0
            image = pixmap.toImage()
            step_x, step_y = max(1, image.width() // 40), max(1, image.height() // 40)
            colours = {image.pixel(x, y) for x in range(0, image.width(), step_x)
                       for y in range(0, image.height(), step_y)}
            if size == 0 or len(colours) < 3:
                raise _Failed(f"the image is blank ({size} bytes, {len(colours)} colours)")
            state = responses[0]["severity"]
            banner = widget.result.banner.text()
            if not banner:
                raise _Failed("the answer banner is empty")
        finally:
            tasks.shutdown()
            widget.deleteLater()
        notes = [] if qt_loaded else [f"Qt: {catalog}.qm {say('missing', lang)}"]
        return (say("screen_ok", lang, state=state, width=image.width(), height=image.height(), size=size,
                    catalog=catalog, qt=say("loaded" if qt_loaded else "missing", lang)), notes,
                {"platform": QApplication.platformName(), "severity": state, "png_bytes": size,
                 "qt_catalog": qt_loaded})

    result = _timed("screen.consultation", say("screen.consultation", lang, platform=chosen or "display"), body)
    if result.data.get("platform"):  # the plugin Qt actually loaded (xcb, wayland, windows, cocoa, offscreen)
        result.title = say("screen.consultation", lang, platform=result.data["platform"])
    if result.ok and not result.data.get("qt_catalog", True):
        result.ok = False  # a Spanish clinic would see English wizard buttons: the package is incomplete
    return result


# ------------------------------------------------------------------------------------------------------ the report
def _active_bundle_dir() -> Path:
    """The bundle this laptop's app runs (an installed update, else the shipped one): the one worth checking."""
    from app.store import default_data_dir
    from app.sync.updates import active_bundle_dir

    return active_bundle_dir(default_data_dir())


def run_checks(lang: str) -> Iterator[CheckResult]:
    """Every check, in order, each as soon as it is done."""
    bundle_dir = _active_bundle_dir()
    yield check_signature(bundle_dir, lang)
    bundles: list[ModelBundle] = []
    yield check_bundle_files(bundle_dir, lang, bundles)
    engines: list[DiagnosisEngine] = []
    if bundles:
        yield check_engine(bundles[0], lang, engines)
        rare = check_rare_index(bundles[0], lang)
        if rare is not None:
            yield rare
    if engines:
        yield from check_origin_cases(engines[0], lang)
        yield check_bundle_cases(engines[0], lang)
    yield check_store(lang)
    yield check_screen(lang)


def header(lang: str) -> dict[str, Any]:
    return {"version": __version__, "packaged": is_packaged(),
            "system": f"{platform.system()} {platform.machine()}", "python": platform.python_version()}


def _line(result: CheckResult, lang: str) -> str:
    mark = say("ok" if result.ok else "failed", lang)
    lines = [f"[{mark}] {result.title}: {result.message}"]
    lines += [f"        {note}" for note in result.notes]
    return "\n".join(lines)


def main(lang: str, as_json: bool, screen_only: bool = False) -> int:
    """Run the self-test and print the report; the exit status is 0 only when every check passed."""
    from app.logs import log_dir

    info = header(lang)
    if screen_only:
        with tempfile.TemporaryDirectory(prefix="vereda-selftest-screen-", ignore_cleanup_errors=True) as tmp:
            results = [render_screen(lang, Path(tmp))]
    else:
        if not as_json:
            where = say("packaged" if info["packaged"] else "source", lang)
            print(say("title", lang, version=__version__, where=where, system=info["system"],
                      python=info["python"]), flush=True)
        results = []
        for result in run_checks(lang):
            results.append(result)
            if not as_json:
                print(_line(result, lang), flush=True)
    failed = [r for r in results if not r.ok]
    if as_json:
        print(json.dumps({**info, "ok": not failed, "checks": [r.to_json() for r in results]}, ensure_ascii=False))
    elif not screen_only:
        print(say("summary_failed", lang, failed=len(failed), total=len(results), log=log_dir() / "vereda.log")
              if failed else say("summary_ok", lang, total=len(results)))
    else:
        for result in results:
            print(_line(result, lang))
    return 0 if not failed else 1
