"""`python -m app.cli`: the `vereda` command."""

import sys

from app.cli import main

sys.exit(main())
