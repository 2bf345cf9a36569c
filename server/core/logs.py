"""Logging for the central service: plain lines on stderr, which systemd, Docker or the supervisor collects.

Request logs carry the method, the route template, the status, the time taken, a request id and who asked (the
verified device or staff login by id, else the client address); never bodies, query strings or headers, because
bodies carry clinical data and headers carry tokens.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


_configured = False  # once per process: the app factory runs in every worker


def configure(level: str = "INFO") -> None:
    """Send the service's and uvicorn's logs to stderr once per process (the app factory runs in every worker)."""
    root = logging.getLogger()
    global _configured
    if _configured:
        root.setLevel(level)
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's access log prints full paths with query strings; ours (server.api.middleware) does not.
    logging.getLogger("uvicorn.access").disabled = True
    # Alembic narrates every plugin it loads; a migration that runs still logs at WARNING when it fails.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    _configured = True
