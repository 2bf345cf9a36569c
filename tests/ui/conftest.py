"""UI tests run like the app: Python's garbage collector only on the GUI thread (app/ui/gc_guard.py says why)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread(qapp) -> Iterator[None]:
    from app.ui.gc_guard import GuiThreadGarbageCollector

    collector = GuiThreadGarbageCollector()
    yield
    collector.stop()  # automatic collection back on for the non-UI tests that follow
    gc.collect()  # this test's Qt garbage, collected here on the GUI thread, not later on some worker
