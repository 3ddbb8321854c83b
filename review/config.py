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


class ReviewSettings(Protocol):
    """What the store and the review UI read of the composed settings."""

    @property
    def languages(self) -> tuple[str, ...]: ...
    @property
    def storage(self) -> Storage: ...
    @property
    def opening_hours(self) -> OpeningHoursConfig: ...
    @property
    def database_url(self) -> str: ...
    @property
    def data_dir(self) -> Path: ...
