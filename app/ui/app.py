"""Start the desktop app and run its life cycle: first-run setup or login, the main window, auto-lock.

Auto-lock: any keyboard or mouse input counts as activity; after the clinic's idle minutes (default 10) the
findings on screen are saved as a draft, the store is locked (keys overwritten), the main window is hidden and the
login window shown. The same user unlocking gets their screen back; another user starts clean.

Start-up order: the login window first (Qt only), then the model and the main window are loaded on a worker
thread while the doctor types the passphrase; SQLAlchemy and onnxruntime take most of a second to import on an
old laptop and nobody should watch that.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import logs
from app.preferences import Preferences
from app.store.config_vars import AUTO_LOCK, AUTO_LOCK_LIMIT, ConfigVar
from app.store.files import is_initialised
from app.ui import operations as ops
from app.ui.errors import install_excepthook, show_error
from app.ui.gc_guard import GuiThreadGarbageCollector
from app.ui.i18n import tr, translator
from app.ui.login import LoginWindow
from app.ui.qt import QApplication, QEvent, QObject, QTimer
from app.ui.tasks import TaskManager

if TYPE_CHECKING:
    from app.core.engine import DiagnosisEngine
    from app.store.store import ClinicStore
    from app.ui.main_window import MainWindow
    from app.ui.setup_wizard import SetupWizard

log = logging.getLogger(__name__)
IDLE_CHECK_MS = 5_000
ACTIVITY_EVENTS = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel}


class _ActivityWatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.last = time.monotonic()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in ACTIVITY_EVENTS:
            self.last = time.monotonic()
        return False


class VeredaApp(QObject):
    """Owns the windows, the task manager and the unlocked store (when there is one)."""

    def __init__(self, data_dir: Path, engine: DiagnosisEngine | None, preferences: Preferences) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.engine = engine
        self.preferences = preferences
        self.tasks = TaskManager()
        self.store: ClinicStore | None = None
        self.operations = ops.Operations(self.tasks, ops.store_of(self), self)
        self.auto_lock_minutes = float(AUTO_LOCK_LIMIT.default)
        self.watcher = _ActivityWatcher()
        # Ignored on the next line: instance() is typed optional; main() creates the QApplication before this object.
        QApplication.instance().installEventFilter(self.watcher)  # type: ignore[union-attr]
        self.idle_timer = QTimer(self)
        self.idle_timer.setInterval(IDLE_CHECK_MS)
        self.idle_timer.timeout.connect(self._check_idle)
        self.main: MainWindow | None = None
        self._waiting_store: ClinicStore | None = None  # unlocked before the model finished loading
        self.login = LoginWindow(data_dir, self.tasks, preferences.last_login)
        self.login.unlocked.connect(self._unlocked)
        self.wizard: SetupWizard | None = None
        translator().language_changed.connect(self._remember_language)
        if engine is not None:
            self._engine_ready(engine)

    def _load_engine(self) -> None:
        def load() -> DiagnosisEngine:
            # Warm these imports off the GUI thread: the first unlock and the main window need them.
            import app.store.store
            import app.ui.main_window  # noqa: F401
            from app.core.engine import DiagnosisEngine
            from app.sync.updates import active_bundle_dir

            # A model installed by a sync or from a USB stick, else the one shipped with the app.
            return DiagnosisEngine.load(active_bundle_dir(self.data_dir))

        self.tasks.run(load, self._engine_ready, self._engine_failed)

    def _engine_ready(self, engine: DiagnosisEngine) -> None:
        from app.ui.main_window import MainWindow

        self.engine = engine
        self.main = MainWindow(engine, self.tasks, self.data_dir, self.preferences)
        self.main.lock_requested.connect(self.lock)
        self.main.quit_requested.connect(self.quit)
        self.main.settings_changed.connect(self._settings_changed)
        if self._waiting_store is not None:
            store, self._waiting_store = self._waiting_store, None
            self._unlocked(store)

    def _engine_failed(self, error: BaseException) -> None:
        # Without its model the app cannot help anyone: say so in plain words, keep the details in the log.
        show_error(self.login, error)

    def start(self) -> None:
        if self.engine is None:
            QTimer.singleShot(0, self._load_engine)  # after the first window is on screen
        if is_initialised(self.data_dir):
            self.login.resize(520, 420)
            self.login.show()
            if os.environ.get("VEREDA_QUIT_WHEN_SHOWN") == "login":
                # For bench/startup.py and the installer's smoke test: report the first painted frame and leave.
                QTimer.singleShot(0, self._report_shown)
        else:
            from app.ui.setup_wizard import SetupWizard

            self.wizard = SetupWizard(self.data_dir, self.tasks)
            self.wizard.finished_setup.connect(self._set_up)
            self.wizard.resize(640, 480)
            self.wizard.show()

    def _report_shown(self) -> None:
        QApplication.processEvents()
        print(f"vereda: login window shown {time.time():.6f}", flush=True)
        QApplication.quit()

    def _set_up(self, login: str) -> None:
        self.login.login.setText(login)
        self.login.reset(tr("login.after_setup"))
        self.login.resize(520, 420)
        self.login.show()

    def _unlocked(self, store: ClinicStore) -> None:
        if self.main is None:
            self._waiting_store = store
            self.login.status.setText(tr("login.loading_model"))
            return
        self.store = store
        self.preferences.last_login = store.principal.login
        self.preferences.save()
        self.login.hide()
        self.login.reset()
        self.main.attach(store)
        self.main.show()
        self.operations.run(ops.read_auto_lock(), self._set_auto_lock)
        self.watcher.last = time.monotonic()
        self.idle_timer.start()

    def _set_auto_lock(self, minutes: float) -> None:
        # The user's own minutes, at most the clinic's limit (store.settings checks both when they are saved).
        self.auto_lock_minutes = max(1.0, float(minutes))

    def _settings_changed(self, values: dict[ConfigVar, Any]) -> None:
        self._set_auto_lock(values[AUTO_LOCK])

    def _remember_language(self, lang: str) -> None:
        self.preferences.language = lang
        self.preferences.save()

    def _check_idle(self) -> None:
        if self.store is not None and time.monotonic() - self.watcher.last >= self.auto_lock_minutes * 60:
            self.lock(reason="idle")

    def lock(self, reason: str = "user") -> None:
        store, main = self.store, self.main
        if store is None or main is None:
            return
        self.idle_timer.stop()

        def locked(_result: object) -> None:
            self.store = None
            main.detach()
            main.hide()
            self.login.reset()
            self.login.show()
            self.login.raise_()

        def refused(error: BaseException) -> None:
            show_error(None, error)
            locked(None)

        def do_lock(_draft: object) -> None:
            self.operations.run(ops.lock(reason), locked, refused, store=store)

        main.save_draft(do_lock)

    def quit(self) -> None:
        store, self.store = self.store, None
        if self.main is not None:
            self.main.detach()
        if store is None:
            QApplication.quit()
            return
        self.operations.run(ops.lock("quit"), lambda _r: QApplication.quit(), lambda _e: QApplication.quit(),
                            store=store)

    def shutdown(self) -> None:
        store = self.store
        if store is not None:
            self.tasks.run_database(lambda: store.lock("quit")).result(timeout=30)
        self.tasks.shutdown()


def run(data_dir: Path | None = None) -> int:
    logs.configure()
    preferences = Preferences.load()
    if data_dir is not None:
        preferences.data_dir = str(data_dir)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Vereda")
    collector = GuiThreadGarbageCollector(app)  # noqa: F841 - owned by the application (its Qt parent)
    translator().set_language(preferences.language)  # after the QApplication: it also loads Qt's own catalog
    install_excepthook()
    vereda = VeredaApp(preferences.data_path, None, preferences)
    vereda.start()
    app.aboutToQuit.connect(vereda.shutdown)
    return app.exec()
