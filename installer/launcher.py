"""Entry point of the packaged executable: the `vereda` command, exactly as `python -m app.cli` runs it.

PyInstaller runs its entry script as `__main__`; pointing it at `app/cli.py` would load the CLI module twice (as
`__main__` and as `app.cli`), so this file only hands over to it.
"""

from __future__ import annotations

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
