"""Fixtures for the transcript store and review UI tests.

`database_url` is parametrised over SQLite and a real throwaway PostgreSQL server, so every store test runs
on both. Missing PostgreSQL binaries fail the PostgreSQL half loudly; they never skip it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from review.store import TranscriptStore
from tests.review.postgres import MISSING, ThrowawayPostgres, find_binaries

# Real argon2id, with cost parameters small enough that the many logins of the UI tests stay fast.
FAST_ARGON2 = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    binaries = find_binaries()
    if binaries is None:
        pytest.fail(MISSING, pytrace=False)
    server = ThrowawayPostgres(binaries)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        server.stop()
        pytest.fail(f"could not start the throwaway PostgreSQL server ({' '.join(exc.cmd[:6])}...): "
                    f"{exc.stderr or exc.stdout}\n{server.log_tail()}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'hotline.db'}"
    server: ThrowawayPostgres = request.getfixturevalue("postgres_server")
    return server.empty_database_url()


@pytest.fixture
def store(database_url: str) -> Iterator[TranscriptStore]:
    transcripts = TranscriptStore(database_url, password_hasher=FAST_ARGON2)
    yield transcripts
    transcripts.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[TranscriptStore]:
    """For tests of the UI, where the database engine makes no difference."""
    transcripts = TranscriptStore(f"sqlite:///{tmp_path / 'hotline.db'}", password_hasher=FAST_ARGON2)
    yield transcripts
    transcripts.close()
