"""HTTP client of the central service: timeouts, bounded retries with backoff and jitter, and a connectivity probe.

One `CentralClient` per sync run wraps a `requests.Session` (keep-alive: a run of 20 batches opens one connection)
with the device token as bearer. Every call has a timeout; transient failures (no connection, a cut connection, a
timeout, 408/429/5xx) are retried up to `RetryPolicy.attempts` times with exponential backoff and jitter, so a
hundred clinics coming back online after a power cut do not hit the service in step. Anything else becomes a
`SyncError` the app can show. The client never follows redirects (a redirect could carry the token elsewhere) and
never logs the token: log lines name the path and the status only.

`probe()` answers "is the central service reachable now?" within a hard deadline, even when name resolution hangs
(requests' timeouts do not cover DNS), so the GUI can call it on its pool thread every minute without a worker ever
being stuck.

Threading: a `CentralClient` is used by one thread at a time; `probe()` and `run_with_deadline()` may be called from
any thread.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests

from app import __version__
from app.sync.messages import SyncError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds; a 500-record batch is answered in well under a second
PROBE_TIMEOUT = 2.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RECORD_STATUSES = frozenset({"accepted", "conflict", "invalid", "rejected"})
USER_AGENT = f"vereda/{__version__}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_server_url(url: str, *, allow_http: bool = False) -> str:
    """`https://host[:port][/prefix]` without a trailing slash; refuses anything else with a clear SyncError.

    Plain http is accepted only to this machine (tests, a service on the same laptop) or with `allow_http` (a lab):
    over a network it would show the device token to anyone on the path.
    """
    raw = (url or "").strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SyncError("invalid_url", url=raw)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise SyncError("invalid_url", url=raw) from None
    if parts.scheme == "http" and not allow_http and not _is_loopback(parts.hostname):
        raise SyncError("insecure_url", url=raw)
    return raw.rstrip("/")


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with jitter. `sleep` and `random` are injectable so tests run without waiting.

    Delay before retry k (k = 0, 1, ...): min(max_delay, base * multiplier**k), of which the `jitter` fraction is
    random ("equal jitter"): spread enough to de-synchronise clinics, never shorter than half the step.
    """

    attempts: int = 5
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 20.0
    jitter: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        step = min(self.max_delay, self.base_delay * self.multiplier**attempt)
        wait = step * (1.0 - self.jitter) + step * self.jitter * self.random()
        if retry_after is not None:  # the service asked for a pause (429/503): honour it, within our bound
            wait = max(wait, min(retry_after, self.max_delay))
        return wait

    def wait(self, attempt: int, retry_after: float | None = None) -> None:
        self.sleep(self.delay(attempt, retry_after))


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def describe(exc: BaseException) -> str:
    """A short, token-free description of a network failure for messages and the audit log."""
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                       "Connection reset", "Connection aborted", "Network is unreachable", "No route to host",
                       "RemoteDisconnected", "IncompleteRead"):
            if marker in text:
                return marker.lower()
        return "connection error"
    if isinstance(exc, requests.RequestException):
        return type(exc).__name__
    return type(exc).__name__


def _server_error(response: requests.Response) -> tuple[str | None, str]:
    """(code, message) of the service's error body, or (None, "HTTP <status>")."""
    try:
        body = response.json()
        error = body["error"]
        return str(error.get("code")), str(error.get("message", ""))[:300]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, f"HTTP {response.status_code}"


@dataclass(frozen=True)
class RecordResult:
    """The service's answer for one record of a batch."""

    index: int
    uuid: str | None
    status: str  # accepted | conflict | invalid | rejected
    error_code: str | None = None
    error_field: str | None = None
    error_message: str | None = None

    @property
    def reason(self) -> str:
        """What goes into the outbox row's last_error when the record is refused (no clinical values)."""
        parts = [self.status]
        if self.error_code:
            parts.append(self.error_code)
        if self.error_field:
            parts.append(self.error_field)
        text = " ".join(parts)
        return f"{text}: {self.error_message}" if self.error_message else text


@dataclass
class CentralClient:
    """The central service's API as the clinic uses it. `token` is the device token (None before enrollment)."""

    base_url: str
    token: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session.headers["User-Agent"] = USER_AGENT
        if self.token:
            self.session.headers["Authorization"] = f"Bearer {self.token}"

    def __repr__(self) -> str:  # never show the token, even in a traceback or a debugger
        return f"CentralClient({self.base_url!r}, token={'set' if self.token else 'none'})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> CentralClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        """An absolute URL for `path` on this service; refuses a URL pointing at another origin."""
        target = urljoin(self.base_url + "/", path.lstrip("/")) if not path.startswith("http") else path
        base, other = urlsplit(self.base_url), urlsplit(target)
        if (base.scheme, base.netloc) != (other.scheme, other.netloc):
            raise SyncError("bad_response", detail="a URL of another server")
        return target

    # ---------------------------------------------------------------------------------------------- plumbing
    def request(self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None,
                timeout: float | tuple[float, float] | None = None, stream: bool = False,
                retry: bool = True, check: Callable[[requests.Response], None] | None = None) -> requests.Response:
        """One call with retries on transient failures. Returns the response of any other status, unread when
        `stream`; raises SyncError(transient=True) when the retries are spent.

        `check` may read the response and raise a transient SyncError for an answer cut short or garbled on the
        way (only for idempotent calls: the request is then sent again)."""
        url = self.url(path)
        route = urlsplit(url).path
        attempt = 0
        while True:
            retry_after = None
            try:
                response = self.session.request(method, url, json=json, headers=headers,
                                                timeout=timeout or self.timeout, stream=stream,
                                                allow_redirects=False)
            except requests.RequestException as exc:
                error = SyncError("unreachable", transient=True, detail=describe(exc))
                log.info("%s %s failed: %s (attempt %d)", method, route, describe(exc), attempt + 1)
            else:
                if response.status_code not in RETRY_STATUSES:
                    if check is None:
                        return response
                    try:
                        check(response)
                        return response
                    except SyncError as exc:
                        if not exc.transient:
                            raise
                        error = exc
                        log.info("%s %s: %s (attempt %d)", method, route, exc.params.get("detail"), attempt + 1)
                    except requests.RequestException as exc:  # the body was cut while being read
                        error = SyncError("unreachable", transient=True, detail=describe(exc))
                    if not retry or attempt + 1 >= self.retry.attempts:
                        raise error
                    self.retry.wait(attempt)
                    attempt += 1
                    continue
                retry_after = _retry_after(response)
                error = SyncError("server_error", transient=True, status=response.status_code)
                log.info("%s %s answered %d (attempt %d)", method, route, response.status_code, attempt + 1)
                response.close()
            if not retry or attempt + 1 >= self.retry.attempts:
                raise error
            self.retry.wait(attempt, retry_after)
            attempt += 1

    def error_for(self, response: requests.Response) -> SyncError:
        """The SyncError for a non-success status that retrying will not fix."""
        code, message = _server_error(response)
        status = response.status_code
        if status == 401:
            if code in ("enrollment_code_unknown", "enrollment_code_used", "enrollment_code_expired"):
                return SyncError(code)
            return SyncError("invalid_token")
        if status in (413, 422):
            return SyncError("batch_refused", detail=f"{status} {code}: {message}", status=status, server_code=code)
        return SyncError("bad_response", detail=f"HTTP {status} {code or ''}".strip(), status=status)

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise SyncError("bad_response", transient=True, detail="not JSON") from None

    # ---------------------------------------------------------------------------------------------- API
    def health(self, timeout: float = PROBE_TIMEOUT) -> dict[str, Any]:
        response = self.request("GET", "/health", timeout=timeout, retry=False)
        if response.status_code != 200:
            raise self.error_for(response)
        body: dict[str, Any] = self._json(response)
        return body

    def enroll(self, code: str, previous_token: str | None = None) -> dict[str, Any]:
        """Exchange a one-time code for {device_id, device_token, clinic_id, clinic_name}; `previous_token` (the
        token this laptop held at the same service) makes the service revoke that older device."""
        body = {"code": code} if previous_token is None else {"code": code, "previous_token": previous_token}
        response = self.request("POST", "/v1/enroll", json=body)
        if response.status_code != 201:
            raise self.error_for(response)
        body = self._json(response)
        if not isinstance(body, dict) or not {"device_id", "device_token", "clinic_id"} <= set(body):
            raise SyncError("bad_response", detail="enroll answer without a device token")
        return body

    def push_feedback(self, records: list[dict[str, Any]]) -> list[RecordResult]:
        """Send one batch; the answer has one RecordResult per record, in order (checked). Sending the same batch
        again is harmless (the service is idempotent by uuid), so a garbled answer is simply asked for again."""
        parsed: list[RecordResult] = []

        def check(response: requests.Response) -> None:
            if response.status_code == 200:
                parsed[:] = self._batch_results(self._json(response), records)

        response = self.request("POST", "/v1/feedback:batch", json={"records": records}, check=check)
        if response.status_code != 200:
            raise self.error_for(response)
        return parsed

    @staticmethod
    def _batch_results(body: Any, records: list[dict[str, Any]]) -> list[RecordResult]:
        try:
            results = [
                RecordResult(int(r["index"]), r.get("uuid"), str(r["status"]),
                             (r.get("error") or {}).get("code"), (r.get("error") or {}).get("field"),
                             (r.get("error") or {}).get("message"))
                for r in body["results"]
            ]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise SyncError("bad_response", transient=True, detail="batch answer without per-record results") from None
        if [r.index for r in results] != list(range(len(records))) or any(
            r.status not in RECORD_STATUSES for r in results
        ):
            raise SyncError("bad_response", transient=True, detail="batch answer does not match the batch")
        for result, record in zip(results, records, strict=True):
            if result.uuid is not None and result.uuid != record["uuid"]:
                raise SyncError("bad_response", transient=True, detail="batch answer names other records")
        return results

    def latest_model(self) -> dict[str, Any] | None:
        """The production model's registry entry, or None when nothing is in production."""
        entry: dict[str, Any] = {}

        def check(response: requests.Response) -> None:
            if response.status_code == 200:
                body = self._json(response)
                if not isinstance(body, dict) or "version" not in body or not isinstance(body.get("archive"), dict):
                    raise SyncError("bad_response", detail="model entry without version or archive")
                entry.update(body)

        response = self.request("GET", "/v1/models/latest", check=check)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self.error_for(response)
        return entry

    def report_audit_head(self, seq: int, head: str) -> dict[str, Any] | None:
        """Send the newest (sequence, hash) of this laptop's audit log; the service's verdict ({status, seq, hash}),
        or None from a service that does not keep heads yet (404). Idempotent: the same head twice is "unchanged"."""
        response = self.request("POST", "/v1/device/audit-head", json={"seq": seq, "hash": head})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self.error_for(response)
        body = self._json(response)
        if not isinstance(body, dict) or "status" not in body:
            raise SyncError("bad_response", detail="audit head answer without a status")
        return body

    def predict(self, request: dict[str, Any], timeout: float) -> requests.Response:
        """POST /v1/predict once, no retries (the caller has a doctor waiting); the raw response."""
        return self.request("POST", "/v1/predict", json=request, timeout=(timeout, timeout), retry=False)


# -------------------------------------------------------------------------------------------------- deadlines
def run_with_deadline(fn: Callable[[], T], seconds: float, name: str = "vereda-net") -> T:
    """Run `fn` on a daemon thread and wait at most `seconds`; TimeoutError if it is still running.

    The thread is left to finish on its own (its own timeouts end it); being a daemon it never holds up the exit.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]  # what fn returned: box holds one value or one error
    return value


@dataclass(frozen=True)
class Connectivity:
    """What the status bar shows: reachable or not, how fast, and what the service runs."""

    reachable: bool
    latency_ms: float | None = None
    server_version: str | None = None
    model_version: str | None = None
    detail: str | None = None  # why not reachable (token-free)


def probe(base_url: str | None, *, timeout: float = PROBE_TIMEOUT, session: requests.Session | None = None
          ) -> Connectivity:
    """GET /health within a hard deadline of `timeout` seconds. Never raises; never sends the device token."""
    if not base_url:
        return Connectivity(False, detail="no central service configured")
    client = CentralClient(base_url, None, RetryPolicy(attempts=1), (timeout, timeout),
                           session or requests.Session())
    started = time.perf_counter()
    try:
        body = run_with_deadline(lambda: client.health(timeout), timeout + 0.25, name="vereda-probe")
    except SyncError as exc:
        return Connectivity(False, detail=str(exc.params.get("detail") or exc.params.get("status") or exc.code))
    except TimeoutError:
        return Connectivity(False, detail="timeout")
    except Exception as exc:  # a probe must never take the caller down
        return Connectivity(False, detail=type(exc).__name__)
    finally:
        if session is None:
            client.close()
    latency = (time.perf_counter() - started) * 1000
    ok = isinstance(body, dict) and body.get("status") == "ok"
    return Connectivity(ok, round(latency, 1), body.get("version") if ok else None,
                        body.get("model_version") if ok else None, None if ok else "unhealthy")
