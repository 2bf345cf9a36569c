"""Hybrid mode from the consultation screen, as a doctor uses it: keys in, Ctrl+Enter, the answer from the real
central service on 127.0.0.1; with the service gone, the local engine answers within the 2-second deadline.

This goes through the same path the screen takes (the screen validates, then hands its validated request to the
mode-aware predictor). An earlier test called the predictor with a dict and so missed that every hybrid diagnosis
from the screen failed.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("pytestqt")

from app.sync.predict import ModePredictor
from app.ui.consultation import ConsultationWidget
from app.ui.qt import Qt
from app.ui.tasks import TaskManager
from tests.server.conftest import start_server  # noqa: F401 - fixture
from tests.server.helpers import free_port
from tests.sync.conftest import server  # noqa: F401 - fixture
from tests.sync.proxy import FaultProxy
from tests.ui.test_consultation import type_symptom


@pytest.fixture
def hybrid_screen(qtbot, engine, server):  # noqa: F811
    proxy = FaultProxy(server.port)
    tasks = TaskManager()
    widget = ConsultationWidget(engine, tasks)
    predictor = ModePredictor(engine, "hybrid", proxy.url, None, cooldown=60)
    widget.set_predictor(predictor)
    widget.age.set_years(40)
    qtbot.addWidget(widget)
    widget.show()
    yield widget, proxy
    tasks.shutdown()
    predictor.close()
    proxy.close()


def diagnose_by_keyboard(qtbot, widget: ConsultationWidget) -> dict:
    errors: list[BaseException] = []
    widget._failed = errors.append  # an error dialog would block offscreen; record it and fail instead
    with qtbot.waitSignal(widget.diagnosed, timeout=15_000) as blocker:
        qtbot.keyClick(widget, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert not errors, errors
    return blocker.args[1]


def test_hybrid_mode_diagnoses_from_the_screen_with_the_cloud_then_locally(qtbot, hybrid_screen) -> None:
    widget, proxy = hybrid_screen
    type_symptom(qtbot, widget, "dolor torac", "7")
    type_symptom(qtbot, widget, "disnea", "9")
    type_symptom(qtbot, widget, "fatiga", "8")

    answer = diagnose_by_keyboard(qtbot, widget)
    assert answer["engine"] == "cloud"
    assert answer["severity"] == "ENFERMEDAD_AGUDA"
    assert proxy.count("/v1/predict") == 1

    proxy.upstream_port = free_port()  # the central service is gone
    started = time.monotonic()
    answer = diagnose_by_keyboard(qtbot, widget)
    assert answer["engine"] == "local"
    assert answer["severity"] == "ENFERMEDAD_AGUDA"
    assert time.monotonic() - started < 3.0
