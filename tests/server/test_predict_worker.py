"""A worker of the central service puts what it loads at start out of the cyclic collector's reach (`gc.freeze()` in
server/main.py's lifespan): otherwise every full collection walks the engine's tables and models, and every request in
flight waits for it (100-200 ms stalls, bench/predict_http.py's p99).
"""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from tests.server.helpers import CASE4


def test_the_engine_is_frozen_once_the_worker_has_started(tmp_path: Path) -> None:
    from server.core.config import Settings
    from server.main import create_app

    gc.unfreeze()
    app = create_app(Settings.load(database_url=f"sqlite:///{tmp_path / 'worker.db'}", data_dir=tmp_path,
                                   rate_limit_per_second=0))
    try:
        with TestClient(app) as client:
            engine = app.state.cloud_engine.current()
            assert gc.is_tracked(engine)
            collected = {id(obj) for obj in gc.get_objects()}  # every generation but the frozen one
            assert id(engine) not in collected and id(engine.bundle) not in collected
            assert gc.get_freeze_count() > 10_000
            # Frozen is not stuck: the worker answers, and what a request allocates is collected as before.
            assert client.post("/v1/predict", json=CASE4).status_code == 200
            assert gc.collect() >= 0
    finally:
        gc.unfreeze()
