"""The main window's status bar: mode, connection, records waiting, last sync and the model's version.

It refreshes itself: every minute while someone is logged in, and whenever an operation announces a change to the
outbox, the settings or the model (app/ui/operations.py). The status is read on the database worker; whether the
central service answers is probed on the pool, and only in a mode that uses it. When the mode allows a background
sync, the laptop is enrolled, the service answers and records wait, it asks for one (`sync_wanted`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from app.ui import operations as ops
from app.ui.i18n import tr
from app.ui.qt import QLabel, QObject, QStatusBar, QTimer, Signal

STATUS_REFRESH_MS = 60_000


def local_time(iso: str | None) -> str:
    if not iso:
        return tr("status.never")
    try:
        return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


class ClinicStatus(QObject):
    sync_wanted = Signal()

    def __init__(self, bar: QStatusBar, operations: ops.Operations, data_dir: Path, model_version: str) -> None:
        super().__init__(bar)
        self.operations = operations
        self.data_dir = data_dir
        self.model_version = model_version
        self.status: dict[str, Any] = {}  # the last status read, for the background-sync decision
        self.connection, self.mode, self.pending, self.last_sync, self.model = (QLabel() for _ in range(5))
        for label in (self.connection, self.mode, self.pending, self.last_sync, self.model):
            bar.addPermanentWidget(label)
        self.timer = QTimer(self)
        self.timer.setInterval(STATUS_REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        operations.changed.connect(self._follow)

    def start(self) -> None:
        self.refresh()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _follow(self, changes: ops.OpChanges) -> None:
        if changes.outbox or changes.settings or changes.bundle:
            self.refresh()

    def refresh(self) -> None:
        self.operations.run(ops.sync_status(self.data_dir), self._show)

    def _show(self, status: dict[str, Any]) -> None:
        self.status = status
        self.retranslate()
        if status["mode"] == "offline":
            self.connection.clear()  # the mode says it all: no probing, no background sync
            return
        if not status["server"]:
            self.connection.setText(tr("status.offline"))
            return
        self.operations.run(ops.probe(status["server"]), self._show_connectivity, lambda _e: None)

    def retranslate(self) -> None:
        """The words for the last status read (again on a language change, without asking anyone)."""
        self.model.setText(tr("status.model", version=self.model_version))
        status = self.status
        if not status:
            return
        self.mode.setText(tr(f"status.mode_{status['mode']}"))
        self.pending.setText(tr("status.pending", count=status["pending"]))
        self.last_sync.setText(tr("status.last_sync", when=local_time(status["last_sync"])))

    def _show_connectivity(self, connectivity: Any) -> None:
        self.connection.setText(tr("status.online") if connectivity.reachable else tr("status.unreachable"))
        status = self.status
        if connectivity.reachable and status.get("auto_sync") and status.get("pending"):
            self.sync_wanted.emit()
