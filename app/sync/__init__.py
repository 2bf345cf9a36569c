"""The sync client: the laptop's side of the central service (no Qt here; the GUI shows what these return).

- `run.run_sync(call_store, data_dir)`: one sync run (pending enrollment, outbox push, model update); `run.sync_status`
  for the status bar; `run.auto_sync_allowed(mode)`.
- `client.probe(url)`: is the central service reachable now (hard deadline, never raises).
- `predict.ModePredictor`: diagnose in the clinic's mode (offline / hybrid / cloud).
- `updates.active_bundle_dir(data_dir)`: the model bundle the app should load; `updates.rollback(data_dir)`.
- `enrollment.enroll(...)`, `usb.export_feedback / import_file`.

Submodules are imported on use: `requests` and the update machinery are not needed to show the login window.
docs/api.md describes the service; docs/security.md says what leaves the laptop and how it is protected.
"""
