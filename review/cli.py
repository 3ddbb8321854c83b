"""What the `hotline` command line calls for the review UI: `hotline users add|passwd|remove NAME`, `retention`.

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


def users_passwd(store: TranscriptStore, name: str, password: str) -> int:
    """Change a staff account's password; its sessions end on every instance. Returns how many ended."""
    return store.accounts.set_password(name, password)


def users_remove(store: TranscriptStore, name: str) -> None:
    """Delete a staff account; its sessions end on every instance."""
    store.accounts.remove_user(name)


def run_retention(store: TranscriptStore, days: int, now: datetime) -> int:
    """Delete the calls started more than `days` before `now`; return how many were deleted."""
    return store.delete_older_than(cutoff_for(days, now))


def prompt_password(prompt: str = "Password: ") -> str:
    """Ask twice on the terminal, without echo; raise ValueError when the two differ."""
    first = getpass.getpass(prompt)
    if getpass.getpass("Repeat the password: ") != first:
        raise ValueError("the two passwords differ")
    return first
