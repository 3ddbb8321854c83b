"""Retention by `hotline retention` (run_retention) and by the server's daily task."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from review.cli import run_retention, users_add
from review.retention import RetentionTask
from review.store import TranscriptStore
from tests.review.seed import NOW, seed_calls


def test_hotline_retention_deletes_calls_older_than_the_period(sqlite_store: TranscriptStore) -> None:
    seed_calls(sqlite_store)
    assert run_retention(sqlite_store, 90, NOW) == 1
    assert sqlite_store.get_call("call-old") is None
    assert run_retention(sqlite_store, 1, NOW) == 1  # the call of two days ago; one of exactly a day stays
    assert run_retention(sqlite_store, 1, NOW + timedelta(seconds=1)) == 1
    assert sqlite_store.count_calls() == 3
    with pytest.raises(ValueError, match="at least one day"):
        run_retention(sqlite_store, 0, NOW)


def test_hotline_users_add_creates_an_account_that_can_log_in(sqlite_store: TranscriptStore) -> None:
    users_add(sqlite_store, "anna", "correct horse battery")
    assert sqlite_store.verify_user("anna", "correct horse battery")
    with pytest.raises(ValueError, match="at least 10 characters"):
        users_add(sqlite_store, "ben", "short")


async def test_the_server_deletes_old_calls_at_start_and_then_once_per_interval(
    sqlite_store: TranscriptStore,
) -> None:
    seed_calls(sqlite_store)
    now = [NOW]
    slept: list[float] = []
    next_day = asyncio.Event()

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += timedelta(days=1)  # a day passes while the task sleeps
        if len(slept) >= 2:
            next_day.set()
            await asyncio.Event().wait()  # then stay asleep until stopped

    task = RetentionTask(sqlite_store, 90, clock=lambda: now[0], sleep=fake_sleep)
    task.start()
    await asyncio.wait_for(next_day.wait(), timeout=10)
    await task.stop()
    assert task.runs == 2 and slept == [86400.0, 86400.0]
    assert task.deleted == 1 and sqlite_store.get_call("call-old") is None
    assert sqlite_store.count_calls() == 5


async def test_a_failing_run_does_not_end_the_daily_schedule() -> None:
    calls = 0

    class Flaky:
        def delete_older_than(self, cutoff: object) -> int:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("database restarting")
            return 0

    done = asyncio.Event()

    async def sleep(seconds: float) -> None:
        if calls >= 2:
            done.set()
            await asyncio.Event().wait()

    task = RetentionTask(Flaky(), 30, interval_s=0.0, sleep=sleep)  # type: ignore[arg-type]
    task.start()
    await asyncio.wait_for(done.wait(), timeout=10)
    await task.stop()
    assert calls == 2 and task.runs == 1
