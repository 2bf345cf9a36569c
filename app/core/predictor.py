"""The one seam between a screen (or a route) and whatever answers a diagnosis.

The consultation screen, the CLI and the central service all validate first and then hand a `DiagnoseRequest` to
something that diagnoses: the offline engine, or the mode-aware predictor of `app/sync/predict.py` (cloud first,
local engine as fallback). Both satisfy this protocol, so the screen never needs to know which one it holds, and a
validated request, never a raw dict, is what crosses the seam.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from app.core.contract import DiagnoseRequest
from app.core.response import DiagnoseResponse


@runtime_checkable
class Predictor(Protocol):
    """Anything that answers the diagnose contract for a validated request."""

    def diagnose(self, request: DiagnoseRequest) -> DiagnoseResponse:
        """The contract's response for `request`; its `"engine"` field says who answered."""
        ...
