"""Named UI operations (app/ui/operations.py) against the real encrypted store: each change announces what it
changed, after its own callback, and the views refresh themselves from that announcement (the status bar, the
patient's history, the predictor); nothing runs while nobody is logged in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.store.config_vars import MODE
from app.ui import operations as ops
from app.ui.app import VeredaApp
from app.ui.i18n import tr
from app.ui.tasks import TaskManager
from tests.ui.conftest import DOCTOR_PASSPHRASE, PASSPHRASE, WAIT, create_clinic, log_in
from tests.ui.test_consultation_v2 import choose_final_diagnosis

FINDINGS = {"fiebre": 8, "tos": 7, "dificultad_respirar": 6}


def test_changes_are_announced_after_their_callback_and_queries_announce_nothing(qtbot, tmp_path: Path):
    create_clinic(tmp_path / "clinic")
    from app.store.store import ClinicStore

    store = ClinicStore.unlock(tmp_path / "clinic", "ana", DOCTOR_PASSPHRASE)
    tasks = TaskManager()
    try:
        runner = ops.Operations(tasks, lambda: store)
        heard: list[object] = []
        runner.changed.connect(lambda changes: heard.append(changes))
        done: list[object] = []
        values = {"given_names": "Rosa", "family_names": "Villca Choque", "sex": "F",
                  "birth_date": dt.date(1990, 3, 2)}
        with qtbot.waitSignal(runner.changed, timeout=WAIT):
            runner.run(ops.register_patient(values), lambda row: done.append(("registered", list(heard))))
        assert done == [("registered", [])]  # the callback ran before the announcement
        assert heard == [ops.OpChanges(patients=True)]

        found: list[list[dict]] = []
        runner.run(ops.search_patients("villca"), found.append)
        qtbot.waitUntil(lambda: bool(found), timeout=WAIT)
        assert [p["family_names"] for p in found[0]] == ["Villca Choque"]
        qtbot.wait(100)
        assert heard == [ops.OpChanges(patients=True)]  # a query changes nothing and says nothing

        nobody = ops.Operations(tasks)  # nobody logged in: the operation does not run at all
        assert nobody.run(ops.register_patient(values), done.append) is False
        assert ops.OpChanges(encounters=True) | ops.OpChanges(outbox=True) == ops.OpChanges(encounters=True,
                                                                                                outbox=True)
        assert not ops.NOTHING
    finally:
        tasks.run_database(store.lock).result(timeout=30)
        tasks.shutdown()


def test_closing_a_consultation_refreshes_the_status_bar_and_the_history_by_itself(qtbot, vereda: VeredaApp,
                                                                                   tmp_path: Path):
    create_clinic(tmp_path / "clinic")
    vereda.start()
    main = log_in(qtbot, vereda, "ana", DOCTOR_PASSPHRASE)
    main.status.timer.stop()  # no periodic refresh: only the announcements may update the status bar
    qtbot.waitUntil(lambda: main.status_pending.text() == tr("status.pending", count=0), timeout=WAIT)
    saved: list[dict] = []
    values = {"given_names": "Rosa", "family_names": "Villca Choque", "sex": "F", "birth_date": dt.date(1990, 3, 2)}
    main.operations.run(ops.register_patient(values), saved.append)
    qtbot.waitUntil(lambda: bool(saved), timeout=WAIT)
    main.load_history(saved[0]["id"])
    main.start_consultation(saved[0])
    consultation = main.consultation
    consultation.symptom_model.set_intensities(FINDINGS)
    with qtbot.waitSignal(consultation.diagnosed, timeout=WAIT):
        consultation.diagnose_button.click()
    qtbot.waitUntil(lambda: main.encounter_id is not None, timeout=WAIT)
    choose_final_diagnosis(qtbot, consultation)
    consultation.close_button.click()
    qtbot.waitUntil(lambda: main.encounter_closed, timeout=WAIT)
    qtbot.waitUntil(lambda: main.status_pending.text() == tr("status.pending", count=1), timeout=WAIT)
    qtbot.waitUntil(lambda: main.patients.history.count() == 1 and tr("patients.closed")
                    in main.patients.history.item(0).text(), timeout=WAIT)


def test_a_mode_saved_by_the_administrator_reaches_the_status_bar_and_the_predictor(qtbot, vereda: VeredaApp,
                                                                                    tmp_path: Path):
    create_clinic(tmp_path / "clinic")
    vereda.start()
    main = log_in(qtbot, vereda, "admin", PASSPHRASE)
    main.status.timer.stop()
    qtbot.waitUntil(lambda: main.status_mode.text() == tr("status.mode_offline"), timeout=WAIT)
    main.save_settings({MODE: "hybrid"})  # what Preferences → Save does
    qtbot.waitUntil(lambda: main.status_mode.text() == tr("status.mode_hybrid"), timeout=WAIT)
    qtbot.waitUntil(lambda: getattr(main.consultation.predictor, "mode", None) == "hybrid", timeout=WAIT)


def test_a_screen_owning_its_runner_is_freed_at_once_not_by_the_garbage_collector(qtbot):
    """No reference cycle between a screen and its runner: Python's collector could free such a cycle on a worker
    thread, where Qt refuses to stop the screen's timers (the startup benchmark crashed that way)."""
    import weakref

    from app.ui.qt import QObject, QTimer

    class Screen(QObject):
        def __init__(self, tasks: TaskManager) -> None:
            super().__init__()
            self.store = None
            self.timer = QTimer(self)
            self.timer.start(60_000)
            self.operations = ops.Operations(tasks, ops.store_of(self), self, on_error=self.failed)

        def failed(self, error: BaseException) -> None:
            raise AssertionError(error)

    tasks = TaskManager()
    try:
        screen = Screen(tasks)
        gone = weakref.ref(screen)
        del screen
        assert gone() is None  # freed by its reference count, here on the GUI thread
    finally:
        tasks.shutdown()
