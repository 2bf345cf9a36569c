"""Every operation the screens run, declared once, run on the task manager, announcing what it changed.

In the manner of Anki's `aqt/operations`: an operation is a value naming what it does and how, and one runner
(`Operations`) carries it out on the right thread (app/ui/tasks.py):

- `QueryOp` reads the clinic store on the database worker and changes nothing;
- `ChangeOp` writes the clinic store on the database worker, then announces what it changed (`OpChanges`) through
  `Operations.changed`, once, after its own callback: views that show patients, encounters, users, settings, the
  outbox or the model listen there and refresh themselves, so no screen refreshes another by hand;
- `WorkOp` is slow work that is not the store's (inference, the PDF, the network) on the pool, or opening the store
  on the database worker (`database=True`); a sync announces what it changed like a `ChangeOp`.

Operations run with the store of the moment they are scheduled: a lock in between makes them fail cleanly instead of
touching a closed database, and an operation scheduled while nobody is logged in does not run at all.
The callables here run on worker threads and must not touch a widget (tasks.py says why).
"""

from __future__ import annotations

import dataclasses
import inspect
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from app.store.config_vars import AUTO_LOCK, COUNTRY, LANGUAGE, REGISTRATION_NUMBER, ConfigVar
from app.ui.qt import QObject, QWidget, Signal
from app.ui.tasks import TaskManager

if TYPE_CHECKING:
    from app.core.engine import DiagnosisEngine
    from app.core.predictor import Predictor
    from app.core.response import DiagnoseResponse
    from app.store.store import ClinicStore

T = TypeVar("T")


@dataclass(frozen=True)
class OpChanges:
    """What an operation changed, for the views that show it."""

    patients: bool = False
    encounters: bool = False
    users: bool = False
    settings: bool = False
    outbox: bool = False  # records waiting to be sent, or sent
    bundle: bool = False  # the active model
    audit: bool = False

    def __or__(self, other: OpChanges) -> OpChanges:
        return OpChanges(**{f.name: getattr(self, f.name) or getattr(other, f.name)
                            for f in dataclasses.fields(self)})

    def __bool__(self) -> bool:
        return any(dataclasses.astuple(self))


NOTHING = OpChanges()
Changes = OpChanges | Callable[[Any], OpChanges]  # fixed, or read from the operation's result


@dataclass(frozen=True)
class QueryOp(Generic[T]):
    name: str
    read: Callable[[ClinicStore], T]


@dataclass(frozen=True)
class ChangeOp(Generic[T]):
    name: str
    write: Callable[[ClinicStore], T]
    changes: Changes


@dataclass(frozen=True)
class WorkOp(Generic[T]):
    name: str
    work: Callable[[], T]
    changes: Changes = NOTHING
    database: bool = False  # opening or creating the store: SQLite work belongs on the database worker


Op = QueryOp[Any] | ChangeOp[Any] | WorkOp[Any]


class Operations(QObject):
    """Runs operations on the task manager with the store of the moment; announces what changed."""

    changed = Signal(object)  # OpChanges, on the GUI thread, after the operation's own callback

    def __init__(self, tasks: TaskManager, store: Callable[[], ClinicStore | None] = lambda: None,
                 parent: QObject | None = None, on_error: Callable[[BaseException], None] | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self._store = store
        self._parent = parent if isinstance(parent, QWidget) else None  # what a message box stands over
        # The screen's way of telling the person (else a message box over `parent`), held weakly when it is the
        # screen's own method: a screen owning its runner must not be kept alive by it (a cycle that Python's garbage
        # collector could free on a worker thread, where Qt objects with timers cannot be destroyed).
        self._on_error = weakref.WeakMethod(on_error) if inspect.ismethod(on_error) else on_error

    def run(self, op: Op, on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None, *, store: ClinicStore | None = None) -> bool:
        """Schedule `op`; False when it needs a store and nobody is logged in (it does not run)."""
        if on_error is None:
            held = self._on_error
            on_error = held() if isinstance(held, weakref.WeakMethod) else held
        if on_error is None:
            parent = self._parent

            def on_error(error: BaseException) -> None:
                from app.ui.errors import show_error

                show_error(parent, error)

        changes: Changes = NOTHING if isinstance(op, QueryOp) else op.changes

        def done(result: Any) -> None:
            if on_done is not None:
                on_done(result)
            announced = changes(result) if callable(changes) else changes
            if announced:
                self.changed.emit(announced)

        if isinstance(op, WorkOp):
            run = self.tasks.run_database if op.database else self.tasks.run
            run(op.work, done, on_error)
            return True
        target = store if store is not None else self._store()
        if target is None:
            return False
        call = op.read if isinstance(op, QueryOp) else op.write
        self.tasks.run_database(lambda: call(target), done, on_error)
        return True


def store_of(owner: object) -> Callable[[], ClinicStore | None]:
    """The `store` attribute of `owner` at the moment an operation is scheduled, without keeping `owner` alive."""
    ref = weakref.ref(owner)
    return lambda: getattr(ref(), "store", None)


# Opening, locking and the session -----------------------------------------------------------------------------------
def _store_class() -> type[ClinicStore]:
    """Imported on the database worker: SQLAlchemy's import never blocks the login window."""
    from app.store.store import ClinicStore

    return ClinicStore


def unlock(data_dir: Path, login: str, passphrase: str) -> WorkOp[ClinicStore]:
    return WorkOp("unlock", lambda: _store_class().unlock(data_dir, login, passphrase), database=True)


def unlock_with_recovery_key(data_dir: Path, key: str) -> WorkOp[ClinicStore]:
    return WorkOp("unlock_with_recovery_key", lambda: _store_class().unlock_with_recovery_key(data_dir, key),
                  database=True)


def create_clinic(data_dir: Path, values: Mapping[str, Any]) -> WorkOp[Any]:
    """The setup wizard's new clinic: the encrypted store, its administrator and recovery key."""
    return WorkOp("create_clinic", lambda: _store_class().create(data_dir, **values), database=True)


def change_own_passphrase(current: str, new: str) -> ChangeOp[None]:
    return ChangeOp("change_own_passphrase", lambda s: s.users.change_passphrase(current, new), OpChanges(users=True))


def lock(reason: str) -> ChangeOp[None]:
    return ChangeOp("lock", lambda s: s.lock(reason), NOTHING)


def read_session() -> QueryOp[tuple[str, str, str | None, str]]:
    """The clinic's name and place (window title, referral letter), the person's language and the clinic's country
    (the identity documents the patient form offers)."""
    return QueryOp("read_session", lambda s: (s.clinic.name, s.clinic.municipality, s.settings.get(LANGUAGE),
                                              str(s.settings.get(COUNTRY))))


def read_clinic() -> QueryOp[tuple[str, str, str]]:
    """The clinic's name, place and country, again after a settings change."""
    return QueryOp("read_clinic", lambda s: (s.clinic.name, s.clinic.municipality, str(s.settings.get(COUNTRY))))


def read_auto_lock() -> QueryOp[float]:
    return QueryOp("read_auto_lock", lambda s: s.settings.auto_lock_minutes())


def build_predictor(engine: DiagnosisEngine) -> QueryOp[Predictor]:
    """Offline, hybrid or cloud, as the clinic's settings say."""
    from app.sync.predict import ModePredictor

    return QueryOp("build_predictor", lambda s: ModePredictor.from_store(s, engine))


# Patients -----------------------------------------------------------------------------------------------------------
def search_patients(query: str) -> QueryOp[list[dict[str, Any]]]:
    from app.ui.patients import patient_row

    return QueryOp("search_patients", lambda s: [patient_row(p) for p in s.patients.search(query)])


def register_patient(values: Mapping[str, Any]) -> ChangeOp[dict[str, Any]]:
    from app.ui.patients import patient_row

    return ChangeOp("register_patient", lambda s: patient_row(s.patients.add(**values)), OpChanges(patients=True))


def update_patient(patient_id: str, values: Mapping[str, Any]) -> ChangeOp[dict[str, Any]]:
    from app.ui.patients import patient_row

    return ChangeOp("update_patient", lambda s: patient_row(s.patients.update(patient_id, **values)),
                    OpChanges(patients=True))


def patient_history(patient_id: str) -> QueryOp[list[dict[str, Any]]]:
    from app.ui.patients import encounter_row

    return QueryOp("patient_history", lambda s: [encounter_row(e) for e in s.encounters.for_patient(patient_id)])


# The consultation ---------------------------------------------------------------------------------------------------
def diagnose(predictor: Predictor, validated: Any) -> WorkOp[DiagnoseResponse]:
    """The offline engine, or the mode-aware predictor (hybrid: the cloud, else the engine), on a validated request."""
    return WorkOp("diagnose", lambda: predictor.diagnose(validated))


def load_term_search(engine: DiagnosisEngine) -> WorkOp[Any]:
    """The HPO term search of the engine's bundle (half a second), or None for a bundle without a rare index."""
    def load() -> Any:
        from app.core.hpo_search import TermSearch

        return TermSearch.load(engine.bundle.path) if engine.rare is not None else None

    return WorkOp("load_term_search", load)


def save_consultation(patient_id: str, encounter_id: str | None, request: dict[str, Any],
                      response: dict[str, Any] | None = None) -> ChangeOp[str]:
    """Store the findings (and the answer, once there is one): a new encounter, or the same one updated. Without an
    answer it is a draft, kept across a lock, a quit or a crash."""
    def save(s: ClinicStore) -> str:
        if encounter_id is None:
            return str(s.encounters.start(patient_id, request=request, response=response).id)
        return str(s.encounters.update(encounter_id, request=request, response=response).id)  # None: keeps it

    return ChangeOp("save_diagnosis" if response is not None else "save_draft", save, OpChanges(encounters=True))


def close_consultation(encounter_id: str, code: str, notes: str) -> ChangeOp[str]:
    """The doctor's confirmed diagnosis: the encounter is closed and its outcome waits in the outbox."""
    return ChangeOp("close_consultation", lambda s: str(s.encounters.close(encounter_id, code, notes=notes or None).id),
                    OpChanges(encounters=True, outbox=True))


# The referral letter ------------------------------------------------------------------------------------------------
def read_registration() -> QueryOp[str]:
    return QueryOp("read_registration", lambda s: str(s.settings.get(REGISTRATION_NUMBER) or ""))


def remember_registration(number: str) -> ChangeOp[None]:
    return ChangeOp("remember_registration", lambda s: s.settings.set(REGISTRATION_NUMBER, number),
                    OpChanges(settings=True))


def read_letter(encounter_id: str, registration: str | None) -> QueryOp[tuple[dict[str, Any], tuple[str, str], str]]:
    """The stored encounter (never what an earlier consultation left on screen), the clinic, the registration."""
    from app.ui.patients import encounter_row

    def read(s: ClinicStore) -> tuple[dict[str, Any], tuple[str, str], str]:
        number = registration if registration is not None else s.settings.get(REGISTRATION_NUMBER) or ""
        return encounter_row(s.encounters.get(encounter_id)), (s.clinic.name, s.clinic.municipality), str(number)

    return QueryOp("read_letter", read)


def write_referral_pdf(letter: Any, target: Path, lang: str) -> WorkOp[Path]:
    from app.ui.referral import write_pdf

    return WorkOp("export_referral", lambda: write_pdf(letter, target, lang))


def export_fhir(encounter_id: str, vocabulary: Any, target: str, lang: str) -> ChangeOp[str]:
    """File → Export (FHIR): one closed encounter written as an R4 Bundle, logged as an export."""
    from app.interop.fhir import write_encounter_bundle

    return ChangeOp("export_fhir", lambda s: write_encounter_bundle(s, encounter_id, vocabulary, target, lang),
                    OpChanges(audit=True))


def record_export(kind: str, patient_id: str, encounter_id: str) -> ChangeOp[None]:
    return ChangeOp("record_export", lambda s: s.audit.record_export(kind, {"patient": patient_id,
                                                                          "encounter": encounter_id}),
                    OpChanges(audit=True))


# Settings and sync --------------------------------------------------------------------------------------------------
def read_settings(variables: tuple[ConfigVar, ...]) -> QueryOp[tuple[dict[ConfigVar, Any], dict[ConfigVar, bool]]]:
    """Each setting's value and whether this person may change it."""
    return QueryOp("read_settings", lambda s: ({v: s.settings.get(v) for v in variables},
                                               {v: s.settings.may_change(v) for v in variables}))


def save_settings(changes: Mapping[ConfigVar, Any]) -> ChangeOp[dict[ConfigVar, Any]]:
    """Each setting checked by the store against its declaration and the person's role; returns the language and
    auto-lock that now hold for the person."""
    def save(s: ClinicStore) -> dict[ConfigVar, Any]:
        for var, value in changes.items():
            s.settings.set(var, value)
        return {LANGUAGE: s.settings.get(LANGUAGE), AUTO_LOCK: s.settings.get(AUTO_LOCK)}

    return ChangeOp("save_settings", save, OpChanges(settings=True))


def sync_status(data_dir: Path) -> QueryOp[dict[str, Any]]:
    from app.sync.run import sync_status as status

    return QueryOp("sync_status", lambda s: status(s, data_dir))


def probe(server: str) -> WorkOp[Any]:
    from app.sync.client import probe as reach

    return WorkOp("probe", lambda: reach(server, timeout=2.0))


def _synced_changes(result: Any) -> OpChanges:
    installed = result.to_json()["model"].get("status") == "installed"
    return OpChanges(outbox=True, bundle=installed)


def sync_now(call_store: Callable[[Callable[[ClinicStore], Any]], Any], data_dir: Path) -> WorkOp[Any]:
    """Send confirmed outcomes and install a model update if the service has one (pool; store calls hop to the
    database worker through `call_store`)."""
    from app.sync.run import run_sync

    return WorkOp("sync_now", lambda: run_sync(call_store, data_dir), _synced_changes)


# Accounts (administrators) ------------------------------------------------------------------------------------------
def list_accounts() -> QueryOp[list[dict[str, Any]]]:
    """The accounts as plain dicts."""
    def rows(s: ClinicStore) -> list[dict[str, Any]]:
        return [{"id": u.id, "login": u.login, "name": u.display_name, "role": u.role, "active": u.active,
                 "must_change": u.must_change_passphrase} for u in s.users.list()]

    return QueryOp("list_accounts", rows)


def add_user(login: str, name: str, role: str, passphrase: str) -> ChangeOp[str]:
    return ChangeOp("add_user", lambda s: str(s.users.add(login, name, role, passphrase).login), OpChanges(users=True))


def disable_user(user_id: str) -> ChangeOp[None]:
    return ChangeOp("disable_user", lambda s: s.users.disable(user_id), OpChanges(users=True))


def enable_user(user_id: str, temporary: str) -> ChangeOp[None]:
    return ChangeOp("enable_user", lambda s: s.users.enable(user_id, temporary), OpChanges(users=True))


def reset_passphrase(user_id: str, temporary: str) -> ChangeOp[None]:
    return ChangeOp("reset_passphrase", lambda s: s.users.reset_passphrase(user_id, temporary), OpChanges(users=True))
