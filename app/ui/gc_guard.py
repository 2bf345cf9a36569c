"""Python's garbage collector runs only on the GUI thread.

The cyclic collector runs on whichever thread happens to allocate when its thresholds are crossed. When that is a
worker of the task manager and the garbage holds Qt objects (a closed dialog caught in a reference cycle), their
C++ destructors run on the worker while holding Qt's connection lock, wait for the Python lock the GUI thread holds,
and the GUI thread waits for the connection lock: the app freezes (seen in the test suite, caught with a native stack
dump). So automatic collection is switched off and a timer on the GUI thread collects, with the same generational
thresholds, a few times a second (the approach pyqtgraph's GarbageCollector takes for the same reason).
"""

from __future__ import annotations

import gc

from app.ui.qt import QObject, QTimer

INTERVAL_MS = 250


class GuiThreadGarbageCollector(QObject):
    """Create once, on the GUI thread, after the QApplication; it lives as long as the application."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        gc.disable()
        self.timer.start()

    def check(self) -> None:
        """Collect the generations whose thresholds are crossed, as the automatic collector would."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if counts[0] <= thresholds[0]:
            return
        generation = 0
        if counts[1] > thresholds[1]:
            generation = 2 if counts[2] > thresholds[2] else 1
        gc.collect(generation)

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()
