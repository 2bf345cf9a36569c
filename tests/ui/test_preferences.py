"""Preferences as a doctor uses them: her own language and auto-lock are saved (they were refused with "maintain"
when every preference was a clinic setting), the clinic's settings are shown read-only, and her choices do not
change anyone else's."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from app.store.config_vars import AUTO_LOCK, AUTO_LOCK_LIMIT, CENTRAL_URL, LANGUAGE, MODE
from app.store.store import ClinicStore
from app.ui import main_window
from app.ui.app import VeredaApp
from app.ui.dialogs import SettingsDialog
from app.ui.i18n import translator
from tests.ui.conftest import PASSPHRASE, WAIT
from tests.ui.test_patient_safety import _logged_in_doctor


def test_a_doctor_saves_her_own_language_and_auto_lock(qtbot, vereda: VeredaApp, tmp_path: Path,
                                                       monkeypatch) -> None:
    main = _logged_in_doctor(qtbot, vereda, tmp_path)
    # The switch itself is covered by test_consultation; switching the one translator here would also reach the
    # widgets earlier tests left connected to it.
    switched: list[str] = []
    monkeypatch.setattr(translator(), "set_language", switched.append)
    errors: list[BaseException] = []
    monkeypatch.setattr(main_window, "show_error", lambda _parent, error: errors.append(error))
    shown: list[SettingsDialog] = []

    def exec_as_the_doctor(dialog: SettingsDialog) -> int:
        shown.append(dialog)
        dialog.language.setCurrentIndex(dialog.language.findData("en"))
        dialog.auto_lock.setValue(4)
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", exec_as_the_doctor)
    main.open_settings()
    qtbot.waitUntil(lambda: vereda.auto_lock_minutes == 4 or bool(errors), timeout=WAIT)
    assert errors == []
    dialog = shown[0]
    # Her own preferences are editable; the clinic's are shown but only an administrator changes them.
    assert dialog.language.isEnabled() and dialog.auto_lock.isEnabled()
    assert not any(w.isEnabled() for w in (dialog.auto_lock_limit, dialog.central_url, dialog.mode))
    assert dialog.auto_lock.high == AUTO_LOCK_LIMIT.default
    assert switched == ["en"]
    store = vereda.store
    assert store is not None
    assert vereda.tasks.run_database(lambda: (store.settings.get(LANGUAGE), store.settings.get(AUTO_LOCK),
                                              store.auto_lock_seconds)).result(timeout=30) == ("en", 4, 240)
    user_id = store.principal.user_id
    vereda.tasks.run_database(lambda: store.lock("test")).result(timeout=30)  # one program at a time

    admin = ClinicStore.unlock(tmp_path / "clinic", "admin", PASSPHRASE)
    with admin:
        assert admin.settings.get(LANGUAGE) != "en" and admin.settings.get(AUTO_LOCK) == AUTO_LOCK_LIMIT.default
        assert admin.settings.get(MODE) == MODE.default and admin.settings.get(CENTRAL_URL) is None
        assert [e.subject for e in admin.audit.entries(limit=20) if e.action == "setting.change"] == [
            f"setting:user:{user_id}:auto_lock_minutes", f"setting:user:{user_id}:language"]
