"""The central service's settings, read from `VEREDA_SERVER_*` environment variables (the CLI sets them too).

The service holds no secret of its own: device tokens and enrollment codes are random and stored only as sha256,
and the signing key never reaches the service. The one credential, PostgreSQL's password, lives in the database URL,
which has no default for PostgreSQL; without a URL the service uses a SQLite file in its data folder (one machine,
small deployments, tests). Staff passwords (the web page's logins) are stored as scrypt hashes and their sessions as
sha256 of random ids, so they add no secret either. The one secret of the service's own is optional: the token
Prometheus sends for /metrics (`VEREDA_SERVER_METRICS_TOKEN`); without it /metrics is off. Settings are checked at
start, and a bad one stops the service with a message that names the variable.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "VEREDA_SERVER_"
DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")  # what /docs needs from swagger-ui-dist


class SettingsError(RuntimeError):
    """A setting that keeps the service from starting. The message names the environment variable."""


def normalise_database_url(url: str) -> str:
    """Accept the URLs operators write (`postgresql://…`) and use the driver we ship (psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in data_dir. postgresql://user:pw@host/db"
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("vereda-server", appauthor=False)),
        description="folder for the default SQLite database and the cache of unpacked model bundles",
    )
    cache_dir: Path | None = Field(default=None, description="unpacked bundles for /v1/predict; default data_dir/cache")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="larger request bodies get 413")
    max_json_depth: int = Field(
        default=32, ge=4, le=1000, description="JSON bodies nested deeper are refused (422) before they are parsed"
    )
    max_json_number_chars: int = Field(
        default=32, ge=16, le=1000, description="JSON numbers written with more characters are refused (422) before "
        "they are parsed (the contract's numbers need a dozen)"
    )
    max_batch_records: int = Field(default=1000, ge=1, le=10_000)
    rate_limit_per_second: float = Field(
        default=20.0, ge=0, description="sustained requests per second per verified device or staff login (else per "
        "client address), counted in the database for all workers and replicas together; 0 turns it off"
    )
    rate_limit_burst: int = Field(default=100, ge=1, description="requests a caller may send at once")
    predict_auth: Literal["open", "device"] = Field(
        default="open",
        description="'open': /v1/predict and /predict answer anyone (origin document's behaviour, rate limited per "
        "IP); 'device': only enrolled devices",
    )
    enroll_code_hours: float = Field(default=72.0, gt=0, le=24 * 90)
    predict_batch_max: int = Field(
        default=32, ge=1, le=256, description="most /v1/predict requests diagnosed in one model call; 1 turns "
        "batching off"
    )
    model_refresh_seconds: float = Field(
        default=30.0, ge=0, description="how often a process checks the registry for a new production model"
    )
    public_key: Path | None = Field(
        default=None, description="Ed25519 public key (PEM) every model bundle must be signed with: publish-model "
        "refuses others and the service loads no other. Default: the key the clinics' app pins "
        "(assets/keys/public.pem of the organisation's build, else the development key)"
    )
    metrics_token: SecretStr | None = Field(
        default=None, min_length=32, description="bearer token Prometheus must send for GET /metrics; unset: /metrics "
        "answers 404 (its counters name clinics)"
    )
    api_docs_dir: Path | None = Field(
        default=None, description="folder with swagger-ui-bundle.js and swagger-ui.css (from swagger-ui-dist): when "
        "set, /docs serves the API's interactive documentation from these files, never from a CDN; unset: /docs is off"
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 7, description="a staff login on the web page lasts at most this long"
    )
    session_idle_minutes: float = Field(
        default=30.0, gt=0, le=24 * 60, description="a staff session unused this long ends (like the app's auto-lock)"
    )
    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Secure flag of the web page's cookies. 'auto': when the request came over HTTPS, as uvicorn sees "
        "it (X-Forwarded-Proto is believed only from --forwarded-allow-ips); 'always': behind TLS whatever the proxy "
        "says; 'never': plain-HTTP test setups only",
    )
    login_rate_per_minute: float = Field(
        default=6.0, ge=0, description="sustained login attempts per minute, per address and per user name; 0 = off"
    )
    login_burst: int = Field(default=10, ge=1, description="login attempts allowed at once before the rate applies")
    migrate_at_start: bool = Field(
        default=True, description="bring the database schema to head when the service starts; false: refuse to "
        "start unless it is already there (replicas of a cluster, where `vereda-server migrate` runs once per "
        "release as a job, so no pod alters the schema while older pods still serve)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = normalise_database_url(value.strip())
        if not value.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB URL")
        return value

    @field_validator("public_key", "metrics_token", "api_docs_dir", "cache_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `VEREDA_SERVER_PUBLIC_KEY=` in an env file means "not set", not the current folder.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_docs_dir")
    @classmethod
    def _docs_files_present(cls, value: Path | None) -> Path | None:
        if value is not None:
            missing = [name for name in DOCS_FILES if not (value / name).is_file()]
            if missing:
                raise ValueError(f"{value} lacks {', '.join(missing)} (copy them from swagger-ui-dist)")
        return value

    @cached_property
    def database(self) -> str:
        """The URL actually used (the SQLite default resolved)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'vereda-server.db'}"

    @cached_property
    def bundle_cache(self) -> Path:
        return self.cache_dir or self.data_dir / "cache"

    @cached_property
    def bundle_public_key(self) -> Path:
        """The one key the registry and the predict engine trust: the clinics' own unless the operator names one.

        Falling back to the app's pinned key (never to "no check") is what keeps a registry without
        VEREDA_SERVER_PUBLIC_KEY from storing a bundle every clinic would refuse, or serving predictions from it.
        """
        from app.core.signing import pinned_public_key_path

        return self.public_key or pinned_public_key_path()

    @classmethod
    def load(cls, **overrides: Any) -> Settings:  # Any: each is checked by pydantic, per field
        """Settings from the environment and `overrides`; a bad value raises SettingsError naming the variable."""
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
            )
            raise SettingsError(f"invalid server settings: {problems}") from None

    def to_env(self) -> dict[str, str]:
        """The settings as environment variables, for worker processes that build their own app."""
        out = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value is not None:
                out[f"{ENV_PREFIX}{name.upper()}"] = str(value)
        return out
