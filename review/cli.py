"""What the `hotline` command line calls for the review UI: `hotline users add NAME`, `hotline retention`.

>>> users_add(TranscriptStore.from_settings(settings), "anna", prompt_password())   # doctest: +SKIP
>>> run_retention(store, settings.storage.retention_days, datetime.now(UTC))         # doctest: +SKIP
"""

from __future__ import annotations

import getpass
from datetime import datetime

from review.retention import cutoff_for
from review.store import TranscriptStore


def users_add(store: TranscriptStore, name: str, password: str, *, replace_password: bool = False) -> None:
    """Create a staff account (or reset its password); raise ValueError saying what was wrong."""
    store.add_user(name, password, replace_password=replace_password)


def run_retention(store: TranscriptStore, days: int, now: datetime) -> int:
    """Delete the calls started more than `days` before `now`; return how many were deleted."""
    return store.delete_older_than(cutoff_for(days, now))


def prompt_password(prompt: str = "Password: ") -> str:
    """Ask twice on the terminal, without echo; raise ValueError when the two differ."""
    first = getpass.getpass(prompt)
    if getpass.getpass("Repeat the password: ") != first:
        raise ValueError("the two passwords differ")
    return first
