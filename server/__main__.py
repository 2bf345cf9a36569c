"""`python -m server` is `vereda-server`."""

from __future__ import annotations

import sys

from server.cli import main

sys.exit(main())
