"""The garbage collector runs on the GUI thread only: a worker allocating garbage never triggers a collection."""

from __future__ import annotations

import gc
import threading
import weakref

from app.ui.gc_guard import GuiThreadGarbageCollector


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_workers_never_collect_and_the_gui_thread_does(qtbot) -> None:
    collector = GuiThreadGarbageCollector(interval_ms=50)
    try:
        assert not gc.isenabled()
        refs: list[weakref.ref[Node]] = []

        def worker() -> None:  # allocates far past the thresholds, as a busy worker would
            for _ in range(5 * gc.get_threshold()[0]):
                refs.append(weakref.ref(Node()))

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert all(r() is not None for r in refs)  # nothing was collected on the worker
        qtbot.waitUntil(lambda: all(r() is None for r in refs), timeout=5_000)  # the GUI thread's timer did
    finally:
        collector.stop()
    assert gc.isenabled()
