"""UI tests run like the app: Python's garbage collector only on the GUI thread (app/ui/gc_guard.py says why).

Shared here: the app on a fresh clinic folder (`vereda`), a clinic with its accounts (`create_clinic`), logging in
through the login window (`log_in`), and the consultation screen on its own (`consultation_screen`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PASSPHRASE = "cuatro palabras muy largas"  # the administrator's
DOCTOR_PASSPHRASE = "la doctora de la vereda"
WAIT = 30_000
ANA = ("ana", "Dra. Ana Pérez", DOCTOR_PASSPHRASE)


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread(qapp) -> Iterator[None]:
    from app.ui.gc_guard import GuiThreadGarbageCollector

    collector = GuiThreadGarbageCollector()
    yield
    collector.stop()  # automatic collection back on for the non-UI tests that follow
    gc.collect()  # this test's Qt garbage, collected here on the GUI thread, not later on some worker


@pytest.fixture
def vereda(qtbot, engine, tmp_path: Path, monkeypatch) -> Iterator[Any]:
    """The desktop app on `tmp_path / "clinic"` (not set up yet), in Spanish, with its own preferences folder."""
    from app.preferences import Preferences
    from app.ui.app import VeredaApp
    from app.ui.i18n import translator

    monkeypatch.setenv("VEREDA_CONFIG_DIR", str(tmp_path / "config"))
    translator().set_language("es")
    app = VeredaApp(tmp_path / "clinic", engine, Preferences())
    yield app
    if app.store is not None:
        app.tasks.run_database(lambda: app.store.lock("test")).result(timeout=30)  # type: ignore[union-attr]
    app.tasks.shutdown()
    for w in (app.main, app.login, app.wizard):
        if w is not None:
            w.hide()
            w.deleteLater()


def create_clinic(folder: Path, *, users: tuple[tuple[str, str, str], ...] = (ANA,),
                  clinic_name: str = "Puesto de Salud La Vereda", municipality: str = "San Andrés") -> None:
    """A clinic set up as the wizard would (administrator "admin"), with these doctors (login, name, passphrase)
    who chose their own passphrase; locked again, ready for the login window. Cheap key derivation: tests only."""
    from app.store.keys import KdfParams
    from app.store.store import ClinicStore

    cheap = KdfParams(n=2**14, r=8, p=1)
    store, _key = ClinicStore.create(folder, clinic_name=clinic_name, municipality=municipality,
                                     admin_login="admin", admin_name="Admin", admin_passphrase=PASSPHRASE, kdf=cheap)
    for login, name, passphrase in users:
        store.users.add(login, name, "doctor", passphrase, must_change_passphrase=False, kdf=cheap)
    store.lock()


def log_in(qtbot, vereda: Any, login: str, passphrase: str) -> Any:
    """Through the login window, as the person would; the main window once it is theirs."""
    vereda.login.login.setText(login)
    vereda.login.passphrase.setText(passphrase)
    vereda.login.button.click()
    qtbot.waitUntil(lambda: vereda.main is not None and vereda.main.isVisible() and vereda.store is not None
                    and vereda.store.principal.login == login, timeout=WAIT)
    return vereda.main


@pytest.fixture
def consultation_screen(qtbot, engine) -> Iterator[Any]:
    """The consultation screen alone, in Spanish, at the size it has on a 1366x768 laptop, with its own tasks."""
    from app.ui.consultation import ConsultationWidget
    from app.ui.i18n import translator
    from app.ui.tasks import TaskManager

    translator().set_language("es")
    tasks = TaskManager()
    widget = ConsultationWidget(engine, tasks)
    qtbot.addWidget(widget)
    widget.resize(1366, 668)
    widget.show()
    yield widget
    tasks.shutdown()
