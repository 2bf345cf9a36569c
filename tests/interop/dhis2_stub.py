"""A small DHIS2 stand-in on 127.0.0.1: the Web API's data value set import (`POST /api/dataValueSets`) as DHIS2's
documentation describes it, so the push is tested against HTTP, not a mock.

Implemented: personal access tokens (`Authorization: ApiToken ...`, 401 otherwise); the JSON data value set (top-
level `period`/`orgUnit`/`attributeOptionCombo` inherited by values that lack them); `importStrategy`
CREATE_AND_UPDATE (default), CREATE, UPDATE, DELETE; `dryRun`; `idScheme` (the stub knows one identifier per
object, so it only records which scheme was asked); values whose data element, org unit or category option combo
the instance does not know become conflicts and are ignored; the reply is 2.38+'s WebMessage wrapping an
ImportSummary (`importCount` imported/updated/ignored/deleted), HTTP 409 with status WARNING when there are
conflicts. A value is keyed by (data element, period, org unit, category option combo, attribute option combo).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

Key = tuple[str, str, str, str, str]


class Dhis2Stub:
    def __init__(self, token: str, data_elements: set[str], org_units: set[str], combos: set[str]) -> None:
        self.token = token
        self.known = {"dataElement": data_elements, "orgUnit": org_units, "categoryOptionCombo": combos}
        self.values: dict[Key, str] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                url = urlparse(self.path)
                if url.path != "/api/dataValueSets":
                    return self._reply(404, {"httpStatus": "Not Found", "httpStatusCode": 404, "status": "ERROR"})
                if self.headers.get("Authorization") != f"ApiToken {stub.token}":
                    return self._reply(401, {"httpStatus": "Unauthorized", "httpStatusCode": 401, "status": "ERROR",
                                             "message": "Account is not authenticated"})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                code, reply = stub.import_values(body, params)
                self._reply(code, reply)

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Dhis2Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def import_values(self, body: dict[str, Any], params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        strategy = params.get("importStrategy", "CREATE_AND_UPDATE")
        dry_run = params.get("dryRun", "false") == "true"
        counts = {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
        conflicts: list[dict[str, Any]] = []
        with self._lock:
            self.requests.append({"params": params, "body": body})
            values = dict(self.values)
            for i, v in enumerate(body.get("dataValues", [])):
                ids = {"dataElement": v.get("dataElement"), "period": v.get("period", body.get("period")),
                       "orgUnit": v.get("orgUnit", body.get("orgUnit")),
                       "categoryOptionCombo": v.get("categoryOptionCombo", "default"),
                       "attributeOptionCombo": v.get("attributeOptionCombo",
                                                     body.get("attributeOptionCombo", "default"))}
                unknown = [k for k, known in self.known.items() if ids[k] not in known]
                if unknown:
                    conflicts.append({"object": ids[unknown[0]], "value": f"{unknown[0]} not found: "
                                      f"{ids[unknown[0]]}", "indexes": [i]})
                    counts["ignored"] += 1
                    continue
                key: Key = (ids["dataElement"], ids["period"], ids["orgUnit"], ids["categoryOptionCombo"],
                            ids["attributeOptionCombo"])
                exists = key in values
                if strategy == "DELETE":
                    counts["deleted" if exists else "ignored"] += 1
                    values.pop(key, None)
                elif (exists and strategy == "CREATE") or (not exists and strategy == "UPDATE"):
                    counts["ignored"] += 1
                else:
                    counts["updated" if exists else "imported"] += 1
                    values[key] = str(v["value"])
            if not dry_run:
                self.values = values
        status = "WARNING" if conflicts else "SUCCESS"
        summary = {"responseType": "ImportSummary", "status": status,
                   "importOptions": {"importStrategy": strategy, "dryRun": dry_run,
                                     "idSchemes": {"idScheme": params.get("idScheme", "UID")}},
                   "description": "Import process completed successfully", "importCount": counts,
                   "conflicts": conflicts, "dataSetComplete": "false"}
        code = 409 if conflicts else 200
        return code, {"httpStatus": "Conflict" if conflicts else "OK", "httpStatusCode": code,
                      "status": "WARNING" if conflicts else "OK",
                      "message": "One more conflicts encountered, please check import summary." if conflicts
                      else "Import was successful.", "response": summary}
