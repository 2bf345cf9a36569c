"""Per-user preferences that must be known before anyone logs in: language and where the clinic's data live.

A small JSON file in the platform's config folder, written atomically (temp file, fsync, rename), never pickle.
Clinic-wide settings (auto-lock minutes, central service, mode) live in the encrypted store instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from app import paths
from app.core.files import write_json_atomic

log = logging.getLogger(__name__)
FILE = "preferences.json"


def config_dir() -> Path:
    return paths.config_dir()


def default_data_dir() -> Path:
    return paths.data_dir()


@dataclass
class Preferences:
    language: str = "es"
    data_dir: str = ""
    last_login: str = ""

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()

    @classmethod
    def load(cls, directory: Path | None = None) -> Preferences:
        path = (directory or config_dir()) / FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            # A damaged preferences file must not stop the clinic: start from defaults and say so in the log.
            log.warning("ignoring unreadable preferences %s: %s", path, exc)
            return cls()
        known = {k: str(v) for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, directory: Path | None = None) -> None:
        folder = directory or config_dir()
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / FILE, asdict(self))
