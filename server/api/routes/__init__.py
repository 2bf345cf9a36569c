"""One router per resource; `server.api.router` puts them together."""
