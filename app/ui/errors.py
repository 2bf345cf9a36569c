"""Errors shown to the doctor in their words, with the full detail in the log file.

`install_excepthook` makes any uncaught exception, on any thread, end in the same dialog and the same log entry
rather than a silent crash.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType

from app import logs
from app.core.contract import ContractError
from app.store.messages import StoreError
from app.ui.i18n import tr, translator
from app.ui.qt import QApplication, QMessageBox, QObject, QWidget, Signal

log = logging.getLogger(__name__)


def friendly_message(error: BaseException) -> str:
    if isinstance(error, ContractError):
        return error.message(translator().lang)
    from app.core.bundle import BundleError  # numpy comes with it; not needed before the first error

    if isinstance(error, BundleError):
        return tr("error.bundle", detail=str(error))
    if isinstance(error, StoreError):
        return error.message(translator().lang)
    return tr("error.unexpected", log=str(logs.log_dir() / logs.LOG_FILE))


def show_error(parent: QWidget | None, error: BaseException) -> None:
    log.error("shown to the user: %r", error, exc_info=(type(error), error, error.__traceback__))
    if QApplication.instance() is None:
        return
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(tr("error.title"))
    box.setText(friendly_message(error))
    box.open() if parent is not None else box.exec()


class _Relay(QObject):
    raised = Signal(object)


_relay: _Relay | None = None


def install_excepthook() -> None:
    """Route uncaught exceptions (GUI thread or worker threads) to the log and an error dialog."""
    global _relay
    _relay = _Relay()
    _relay.raised.connect(lambda exc: show_error(None, exc))

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        log.critical("uncaught exception", exc_info=(kind, value, tb))
        if issubclass(kind, KeyboardInterrupt):
            return
        if _relay is not None:
            _relay.raised.emit(value)

    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value or Exception(), args.exc_traceback)
