"""Diagnosis by mode (the clinic setting "mode"): offline, hybrid or cloud, with one `diagnose()` for the app.

- offline: the local engine only; this module never opens a socket (no session is even created).
- hybrid (the origin document's): the central `/v1/predict` first, with a hard 2-second deadline (DNS included);
  on any failure (no route, timeout, 5xx, a malformed answer) the local engine answers at once. The answer's
  `"engine"` says which one did ("cloud" or "local"). After a failure the cloud is not tried again for `cooldown`
  seconds, so a clinic whose link just dropped does not wait 2 s on every patient.
- cloud: the central service only; when it cannot answer, a SyncError `cloud_unavailable` with a message in the
  clinic's language tells the doctor to switch modes.

The request is validated locally first in every mode, so a typing mistake gets the same error, in the same words,
whatever the mode, and nothing invalid is ever sent. The diagnose request carries no identifiers (age, sex,
findings, vitals); the device token is sent so a service that requires enrolled devices accepts it.

Threading: `diagnose()` may be called from several worker threads at once (the engine is thread-safe; the cooldown
is guarded by a lock). Never call it on the GUI thread in hybrid or cloud mode: it may wait up to the deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from app.core.contract import CONTRACT_VERSION, DiagnoseRequest
from app.core.response import DiagnoseResponse
from app.core.vocabulary import STATES
from app.store.config_vars import CENTRAL_URL, DEVICE_TOKEN, MODE, MODES
from app.sync.client import CentralClient, RetryPolicy, run_with_deadline
from app.sync.messages import SyncError

if TYPE_CHECKING:
    from app.core.engine import DiagnosisEngine
    from app.store.store import ClinicStore

log = logging.getLogger(__name__)

DEFAULT_MODE: str = MODE.default
HYBRID_TIMEOUT = 2.0  # origin document
CLOUD_TIMEOUT = 8.0
COOLDOWN = 30.0


class CloudFailure(Exception):
    """The cloud did not give a usable answer; the message is a short, token-free reason."""


def normalise_mode(mode: Any) -> str:
    return mode if mode in MODES else DEFAULT_MODE


class ModePredictor:
    """Diagnose in the clinic's mode. Build with `from_store()` (reads mode, URL and token) or directly."""

    def __init__(self, engine: DiagnosisEngine, mode: str = DEFAULT_MODE, server_url: str | None = None,
                 token: str | None = None, *, hybrid_timeout: float = HYBRID_TIMEOUT,
                 cloud_timeout: float = CLOUD_TIMEOUT, cooldown: float = COOLDOWN,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.mode = normalise_mode(mode)
        self.server_url = server_url
        self.hybrid_timeout = hybrid_timeout
        self.cloud_timeout = cloud_timeout
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._skip_until = float("-inf")
        self._client: CentralClient | None = None
        if self.mode != "offline" and server_url:
            self._client = CentralClient(server_url, token, RetryPolicy(attempts=1))

    def __repr__(self) -> str:
        return f"ModePredictor(mode={self.mode!r}, server={self.server_url!r})"

    @classmethod
    def from_store(cls, store: ClinicStore, engine: DiagnosisEngine, **kwargs: Any) -> ModePredictor:
        """Read the settings on the store's thread; the predictor itself may then be used from any thread."""
        settings = store.settings
        return cls(engine, normalise_mode(settings.get(MODE)), settings.get(CENTRAL_URL) or None,
                   settings.get(DEVICE_TOKEN) or None, **kwargs)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def cloud_suspended(self) -> bool:
        """True while hybrid mode skips the cloud after a failure."""
        with self._lock:
            return self._clock() < self._skip_until

    def diagnose(self, request: DiagnoseRequest | dict[str, Any]) -> DiagnoseResponse:
        """The diagnose contract's answer; `"engine"` says who answered. Raises ContractError for an invalid
        request (any mode) and SyncError `cloud_unavailable`/`cloud_not_configured` in cloud mode.

        `request` is normally the validated request the screen already holds (the `Predictor` seam of
        app/core/predictor.py); a plain dict is validated here first, so nothing invalid ever leaves the laptop and
        the error reads the same in every mode.
        """
        if not isinstance(request, DiagnoseRequest):
            request = self.engine.validate(request)
        if self.mode == "offline":
            return self.engine.diagnose(request)
        if self.mode == "cloud":
            if self._client is None:
                raise SyncError("cloud_not_configured")
            try:
                return self._cloud(request, self.cloud_timeout)
            except CloudFailure as exc:
                raise SyncError("cloud_unavailable", transient=True, detail=str(exc)) from None
        if self._client is not None and not self.cloud_suspended:
            try:
                return self._cloud(request, self.hybrid_timeout)
            except CloudFailure as exc:
                log.info("cloud predict failed (%s); the local engine answers", exc)
                with self._lock:
                    self._skip_until = self._clock() + self.cooldown
        return self.engine.diagnose(request)

    def _cloud(self, request: DiagnoseRequest, timeout: float) -> DiagnoseResponse:
        client = self._client
        assert client is not None
        body = request.to_json()  # the contract's own JSON form of the validated request

        def call() -> Any:
            response = client.predict(body, timeout)
            try:
                if response.status_code != 200:
                    raise CloudFailure(f"HTTP {response.status_code}")
                return response.json()
            finally:
                response.close()

        try:
            answer = run_with_deadline(call, timeout, name="vereda-predict")
        except TimeoutError:
            raise CloudFailure("timeout") from None
        except SyncError as exc:
            raise CloudFailure(str(exc.params.get("detail") or exc.code)) from None
        except ValueError:
            raise CloudFailure("not JSON") from None
        if not isinstance(answer, dict) or answer.get("severity") not in STATES or answer.get("engine") != "cloud" \
                or not isinstance(answer.get("top_conditions"), list):
            raise CloudFailure("malformed answer")
        if answer.get("contract") != CONTRACT_VERSION or not isinstance(answer.get("triage"), dict):
            # A service not yet on this contract: its answer lacks the triage the screen shows first.
            raise CloudFailure(f"contract {answer.get('contract', 1)} answer")
        with self._lock:
            self._skip_until = float("-inf")
        return cast(DiagnoseResponse, answer)  # checked above for what the screen reads; the service types the rest
