"""The HTTP API: one router per resource under /v1, the origin document's aliases, middleware and errors."""
