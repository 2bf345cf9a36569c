"""The error the service answers on purpose (status, code, message), raised by API routes and web pages alike.

Its own module under server/core so that server/web need not import server/api (server/api imports
server/web.sessions for the staff cookie; the reverse arrow made a package cycle). server/api/errors.py turns it
into the one JSON error shape.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error the API answers on purpose, with its status, code and message."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.headers = status, code, message, field, headers
