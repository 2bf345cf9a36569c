"""One task manager for everything slow, so the doctor's window never freezes.

Database work runs on a single worker thread (SQLite connections and the store are not shared across threads, and
one writer at a time is what SQLite wants anyway); everything else (inference batches, PDF export, network) on a
small pool. Results and errors come back to the GUI thread through one Qt signal, so callbacks may touch widgets.

Threading rule: the `op` callables run on worker threads and must not call any Qt widget; `on_done` and
`on_error` run on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from app.ui.qt import QObject, Signal, Slot

log = logging.getLogger(__name__)

Callback = Callable[[Any], None]
# Store refusals that answer the person (wrong passphrase, not allowed...), as opposed to a damaged database.
ANSWERS = frozenset({"wrong_credentials", "too_many_attempts", "wrong_recovery_key", "user_disabled", "not_allowed",
                     "passphrase_change_required", "locked", "last_admin", "cannot_disable_self",
                     "invalid_document_type"})
ErrorCallback = Callable[[BaseException], None]


def _expected(error: BaseException) -> bool:
    """Errors that are an answer to the person, not a fault of the program."""
    from app.core.contract import ContractError
    from app.store.messages import StoreError

    if isinstance(error, ContractError):
        return True
    return isinstance(error, StoreError) and (error.code in ANSWERS or error.code in StoreError.USER_FIXABLE)


class TaskManager(QObject):
    _finished = Signal(object, object, object, object)  # on_done, on_error, result, error
    busy_changed = Signal(int)  # number of tasks in flight, for a progress indicator

    def __init__(self, pool_size: int = 2) -> None:
        super().__init__()
        self._database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vereda-db")
        self._pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="vereda-work")
        self._in_flight = 0
        self._closed = False
        # Queued connection: emitted from worker threads, delivered on the thread that owns this object (GUI).
        self._finished.connect(self._deliver)

    def run_database(self, op: Callable[[], Any], on_done: Callback | None = None,
                     on_error: ErrorCallback | None = None) -> Future[Any]:
        return self._submit(self._database, op, on_done, on_error)

    def run(self, op: Callable[[], Any], on_done: Callback | None = None,
            on_error: ErrorCallback | None = None) -> Future[Any]:
        return self._submit(self._pool, op, on_done, on_error)

    def _submit(self, executor: ThreadPoolExecutor, op: Callable[[], Any], on_done: Callback | None,
                on_error: ErrorCallback | None) -> Future[Any]:
        if self._closed:
            # The app is closing: results still queued may ask for follow-up work (a status refresh); drop it.
            log.debug("task dropped after shutdown")
            dropped: Future[Any] = Future()
            dropped.cancel()
            return dropped
        self._in_flight += 1
        self.busy_changed.emit(self._in_flight)

        def work() -> Any:
            try:
                result = op()
            except BaseException as exc:  # delivered to on_error on the GUI thread
                if _expected(exc):
                    # A wrong passphrase, a refused action, an invalid request: the person is told in their words;
                    # the log gets one line, not an error with a traceback.
                    log.warning("background task refused: %s: %s", type(exc).__name__, getattr(exc, "code", exc))
                else:
                    log.exception("background task failed")
                self._finished.emit(on_done, on_error, None, exc)
                raise
            self._finished.emit(on_done, on_error, result, None)
            return result

        return executor.submit(work)

    @Slot(object, object, object, object)
    def _deliver(self, on_done: Callback | None, on_error: ErrorCallback | None, result: Any,
                 error: BaseException | None) -> None:
        self._in_flight -= 1
        self.busy_changed.emit(self._in_flight)
        if error is not None:
            if on_error is not None:
                on_error(error)
            else:
                from app.ui.errors import show_error

                show_error(None, error)
        elif on_done is not None:
            on_done(result)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def shutdown(self, wait: bool = True) -> None:
        self._closed = True
        self._database.shutdown(wait=wait, cancel_futures=not wait)
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
