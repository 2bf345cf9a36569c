"""The diagnosis engine behind /v1/predict: the production model of the registry, or the shipped bundle.

Each process keeps one `DiagnosisEngine` and asks the registry, at most every `model_refresh_seconds`, whether the
production model changed (a promotion may have been made by the CLI or by another replica). A new production model
is unpacked into the cache folder from the archive stored in the database, loaded, and swapped in; if that fails,
the process keeps answering with the engine it has and logs why. Every bundle, the shipped one included, is loaded
only after its signature verifies with the service's trusted key (`registry.load_verified`); a production bundle
that does not verify is refused once (not retried until it changes), and a process that has nothing else yet answers
with the shipped bundle.

`PredictBatcher` runs the requests that are waiting at the same moment through one `diagnose_many` call: feature
expansion, both models, explanations and the rare-disease ranking then run as array operations once per batch
instead of once per request, which more than halves the CPU per request under load. It never waits for a batch to
fill (an idle service answers a lone request at once). Rows of a batch get the same states, flags and conditions as
alone; a probability or a model score may differ from a single-row call by one unit of its last decimal (float32
sums in onnxruntime depend on the batch shape; tests/server/test_predict_batched.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.bundle import shipped_bundle_dir
from app.core.contract import DiagnoseRequest
from app.core.engine import DiagnosisEngine
from app.core.response import DiagnoseResponse
from server.core import metrics
from server.db import crud
from server.db.models import ModelVersion
from server.registry import RegistryError, load_verified, unpack

log = logging.getLogger(__name__)


class CloudEngine:
    """Thread-safe holder of the current engine. `current()` is cheap; `refresh()` may touch disk and database."""

    def __init__(self, sessions: sessionmaker[Session], cache_dir: Path, refresh_seconds: float,
                 fallback: Path | None = None, *, public_key: Path) -> None:
        self._sessions = sessions
        self._cache_dir = cache_dir
        self._refresh_seconds = refresh_seconds
        self._fallback = fallback or shipped_bundle_dir()
        self._public_key = public_key
        self._refused_key: tuple[str, str] | None = None  # a production archive that failed verification
        self._lock = threading.Lock()
        self._engine: DiagnosisEngine | None = None
        self._loaded_key: tuple[str, str] | None = None  # (version, archive sha256) of the registry model in use
        self._checked = float("-inf")

    @property
    def loaded_version(self) -> str | None:
        return None if self._engine is None else self._engine.bundle.version

    @property
    def refresh_due(self) -> bool:
        return self._engine is None or time.monotonic() - self._checked >= self._refresh_seconds

    def current(self) -> DiagnosisEngine:
        if self.refresh_due:
            self.refresh()
        assert self._engine is not None
        return self._engine

    def refresh(self) -> None:
        with self._lock:
            if not self.refresh_due:  # another thread just did it
                return
            try:
                self._load_production()
            except RegistryError as exc:  # a refusal, not a crash: one line, no traceback
                if self._engine is None:
                    self._load_fallback()
                log.error("refused the production model: %s; answering with %s", exc, self.loaded_version)
            except Exception:
                if self._engine is None:
                    raise
                log.exception("could not load the production model; still answering with %s", self.loaded_version)
            finally:
                self._checked = time.monotonic()

    def _load_production(self) -> None:
        with self._sessions() as session:
            row = session.execute(
                select(ModelVersion.id, ModelVersion.version, ModelVersion.archive_sha256)
                .where(ModelVersion.stage == "production")
            ).first()
            if row is None:
                if self._engine is None or self._loaded_key is not None:
                    self._load_fallback()
                    log.info("no production model in the registry; using the shipped bundle %s", self.loaded_version)
                return
            model_id, version, sha = row
            if (self._loaded_key == (version, sha) and self._engine is not None) or self._refused_key == (version, sha):
                return
            try:
                folder = unpack(crud.archive_chunks(session, model_id), sha, self._cache_dir, version,
                                self._public_key)
                bundle = load_verified(folder, self._public_key)
            except RegistryError:
                self._refused_key = (version, sha)
                raise
        self._engine = DiagnosisEngine(bundle)
        self._loaded_key = (version, sha)
        log.info("serving production model %s", version)

    def _load_fallback(self) -> None:
        self._engine = DiagnosisEngine(load_verified(self._fallback, self._public_key))
        self._loaded_key = None


class PredictBatcher:
    """Collects concurrent predict requests of one process (one event loop) into `diagnose_many` calls.

    Runs on the event loop: the batch is CPU work of a few milliseconds, and every request waiting for it would
    otherwise queue behind the same CPU anyway.
    """

    def __init__(self, max_batch: int = 32) -> None:
        self.max_batch = max(1, max_batch)
        self._queue: list[tuple[DiagnosisEngine, DiagnoseRequest, asyncio.Future[DiagnoseResponse], bool]] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="predict-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def diagnose(self, engine: DiagnosisEngine, request: DiagnoseRequest,
                       next_findings: bool = True) -> DiagnoseResponse:
        if self.max_batch == 1 or self._task is None:
            metrics.PREDICT_BATCH.observe(1)
            return engine.diagnose(request, engine="cloud", next_findings=next_findings)
        future: asyncio.Future[DiagnoseResponse] = asyncio.get_running_loop().create_future()
        self._queue.append((engine, request, future, next_findings))
        self._ready.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            await asyncio.sleep(0)  # let handlers that are already runnable add their requests to this batch
            engine, wanted = self._queue[0][0], self._queue[0][3]
            # A model refresh between two requests must not mix engines in one call, nor callers who asked for
            # next_findings with those who did not.
            batch = [item for item in self._queue if item[0] is engine and item[3] == wanted][: self.max_batch]
            taken = {id(item) for item in batch}
            self._queue = [item for item in self._queue if id(item) not in taken]
            if not self._queue:
                self._ready.clear()
            live = [item for item in batch if not item[2].cancelled()]  # the client may have gone
            if not live:
                continue
            metrics.PREDICT_BATCH.observe(len(live))
            try:
                results = engine.diagnose_many([item[1] for item in live], engine="cloud", next_findings=wanted)
            except Exception as exc:  # answered as a 500 by each request; the batcher keeps running
                for _, _, future, _ in live:
                    future.set_exception(exc)
            else:
                for (_, _, future, _), result in zip(live, results, strict=True):
                    future.set_result(result)
