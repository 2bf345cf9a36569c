"""The status bar and "Sync now" against a real central service on 127.0.0.1, from a real encrypted clinic store."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pytestqt")

from app.preferences import Preferences
from app.store.config_vars import MODE
from app.ui.app import VeredaApp
from app.ui.i18n import translator
from tests.server.conftest import start_server  # noqa: F401 - fixture
from tests.sync.conftest import (  # noqa: F401 - fixtures
    DOCTOR_PASS,
    answers,
    clinic,
    close_encounters,
    enroll_clinic,
    expected_uuids,
    server,
    stored,
)

WAIT = 30_000


def test_status_and_sync_now(qtbot, engine, clinic, answers, server, monkeypatch, tmp_path) -> None:  # noqa: F811
    monkeypatch.setenv("VEREDA_CONFIG_DIR", str(tmp_path / "config"))
    translator().set_language("es")
    close_encounters(clinic, answers, 6)
    enroll_clinic(clinic, server.url, server)
    with clinic.admin() as admin:
        admin.settings.set(MODE, "hybrid")
    expected = expected_uuids(clinic)  # before the app opens the store: one program at a time

    vereda = VeredaApp(clinic.data_dir, engine, Preferences())
    try:
        vereda.start()
        vereda.login.login.setText("doctora")
        vereda.login.passphrase.setText(DOCTOR_PASS)
        vereda.login.button.click()
        qtbot.waitUntil(lambda: vereda.main is not None and vereda.main.isVisible(), timeout=WAIT)
        main = vereda.main
        assert main is not None
        # Hybrid, enrolled, the service answers: connected, and the waiting records go out by themselves.
        qtbot.waitUntil(lambda: main.status_connection.text() == "Conectado", timeout=WAIT)
        qtbot.waitUntil(lambda: main.status_pending.text().endswith(": 0"), timeout=WAIT)
        assert set(stored(server.database)) == expected
        assert "nunca" not in main.status_sync.text()

        # The predictor follows the mode: the answer comes from the central service.
        predictor: Any = main.consultation.predictor
        request = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}
        assert predictor.diagnose(request)["engine"] == "cloud"

        # "Sync now" by hand with nothing waiting says so and changes nothing.
        main.sync_now()
        qtbot.waitUntil(lambda: not main._syncing, timeout=WAIT)
        assert len(stored(server.database)) == 6
    finally:
        if vereda.store is not None:
            store = vereda.store
            vereda.tasks.run_database(lambda: store.lock("test")).result(timeout=30)
        vereda.tasks.shutdown()
        for w in (vereda.main, vereda.login):
            if w is not None:
                w.hide()
                w.deleteLater()
