"""The configuration the transcript store and the staff UI need."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import Field

from pipeline.config import OpeningHoursConfig, Section


class Storage(Section):
    database_url: str | None = None
    retention_days: int = Field(default=90, ge=1, le=3650)
    redact_contacts: bool = True


class ReviewConfig(Section):
    """The staff UI's logins. Nothing here is per instance: every server on one database shares the sessions."""

    # Signs the login form's cookie (the logged-in session itself is a row in the database). Unset: a random
    # key kept in the database, made by the first instance to start, so every instance shares it.
    secret_key: str | None = Field(default=None, min_length=16)
    session_hours: float = Field(default=10.0, gt=0, le=24 * 30)
    # Password checks (argon2id, about 64 MiB and up to four threads each) at once, logins allowed to wait for
    # one, and checks a minute overall (at most login_burst of them back to back); beyond that a login is
    # refused at once (503, try again), so a login flood cannot take the CPU that live calls need.
    login_concurrency: int = Field(default=1, ge=1, le=64)
    login_queue: int = Field(default=8, ge=0, le=1000)
    login_checks_per_min: float = Field(default=60, gt=0, le=6000)
    login_burst: int = Field(default=10, ge=1, le=1000)


class ReviewSettings(Protocol):
    """What the store and the review UI read of the composed settings."""

    @property
    def languages(self) -> tuple[str, ...]: ...
    @property
    def storage(self) -> Storage: ...
    @property
    def review(self) -> ReviewConfig: ...
    @property
    def opening_hours(self) -> OpeningHoursConfig: ...
    @property
    def database_url(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...
