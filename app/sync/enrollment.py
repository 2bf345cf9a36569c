"""Enrollment of this laptop with the central service, and the credentials it leaves in the encrypted store.

`enroll()` spends a one-time code (`vereda-server enroll-code`) at `POST /v1/enroll` and keeps the answer in the
store's settings (app/store/config_vars.py): CENTRAL_URL, DEVICE_TOKEN (secret: the store writes "set" in the
audit log instead of the value, and nothing here prints or logs it), DEVICE_ID, CENTRAL_CLINIC_ID,
CENTRAL_CLINIC_NAME. The settings live in the SQLCipher database, so the token is encrypted at rest with everything
else.

The setup wizard may have saved a code typed before the laptop ever saw a network (ENROLLMENT_CODE);
`complete_pending_enrollment()` spends it at the first sync and then forgets it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.store.config_vars import (
    CENTRAL_CLINIC_ID,
    CENTRAL_CLINIC_NAME,
    CENTRAL_URL,
    DEVICE_ID,
    DEVICE_TOKEN,
    ENROLLMENT_CODE,
)
from app.sync.client import CentralClient, normalise_server_url
from app.sync.messages import SyncError

if TYPE_CHECKING:
    from app.store.store import ClinicStore
    from app.sync.outbox import StoreCall

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Enrollment:
    server_url: str
    token: str = field(repr=False)
    device_id: int
    clinic_id: str
    clinic_name: str = ""

    def public(self) -> dict[str, Any]:
        """What may be shown or printed: everything but the token."""
        return {"server": self.server_url, "device_id": self.device_id, "clinic_id": self.clinic_id,
                "clinic_name": self.clinic_name}


def load_enrollment(store: ClinicStore) -> Enrollment | None:
    settings = store.settings
    url, token, clinic = settings.get(CENTRAL_URL), settings.get(DEVICE_TOKEN), settings.get(CENTRAL_CLINIC_ID)
    if not url or not token or not clinic:
        return None
    return Enrollment(str(url), str(token), int(settings.get(DEVICE_ID) or 0), str(clinic),
                      str(settings.get(CENTRAL_CLINIC_NAME) or ""))


def enroll(call_store: StoreCall, server_url: str, code: str, *, force: bool = False, allow_http: bool = False,
           client_factory: Callable[[str], CentralClient] | None = None) -> Enrollment:
    """Enroll with `server_url` using `code`; store and return the credentials. Raises SyncError."""
    url = normalise_server_url(server_url, allow_http=allow_http)
    current = call_store(load_enrollment)
    if current is not None and not force:
        raise SyncError("already_enrolled", url=current.server_url)
    # Enrolling again (--force) retires the device this laptop was: the service revokes the token we send, so a
    # copy of it left on an old disk or a stolen backup stops working. It goes only to the service that issued it.
    previous = current.token if current is not None and current.server_url == url else None
    with (client_factory or CentralClient)(url) as client:
        answer = client.enroll(code.strip(), previous_token=previous)
    enrollment = Enrollment(url, str(answer["device_token"]), int(answer["device_id"]), str(answer["clinic_id"]),
                            str(answer.get("clinic_name", "")))

    def save(store: ClinicStore) -> None:
        settings = store.settings
        if settings.get(CENTRAL_URL) != url:
            settings.set(CENTRAL_URL, url)
        settings.set(DEVICE_TOKEN, enrollment.token)
        settings.set(DEVICE_ID, enrollment.device_id)
        settings.set(CENTRAL_CLINIC_ID, enrollment.clinic_id)
        settings.set(CENTRAL_CLINIC_NAME, enrollment.clinic_name)
        if settings.get(ENROLLMENT_CODE):
            settings.set(ENROLLMENT_CODE, None)
        store.audit.record_sync("enrolled", enrollment.public())

    call_store(save)
    log.info("enrolled with %s as device %d of %s", url, enrollment.device_id, enrollment.clinic_id)
    return enrollment


def complete_pending_enrollment(call_store: StoreCall, *, allow_http: bool = False,
                                client_factory: Callable[[str], CentralClient] | None = None) -> Enrollment | None:
    """Spend the code the setup wizard saved, if there is one and the laptop is not enrolled yet."""
    url, code, current = call_store(lambda s: (s.settings.get(CENTRAL_URL), s.settings.get(ENROLLMENT_CODE),
                                               load_enrollment(s)))
    if current is not None or not url or not code:
        return current
    return enroll(call_store, str(url), str(code), allow_http=allow_http, client_factory=client_factory)
