"""Retention: transcripts older than the configured period are deleted, by `hotline retention` and daily."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from review.store import TranscriptStore

log = logging.getLogger("hotline.review")
DAY_S = 24 * 3600.0


def cutoff_for(days: int, now: datetime) -> datetime:
    """Calls started before this moment are past retention."""
    if days < 1:
        raise ValueError("the retention period must be at least one day")
    return now - timedelta(days=days)


class RetentionTask:
    """Deletes calls older than `days` now and then every `interval_s`, inside the server's event loop.

    >>> task = RetentionTask(store, settings.storage.retention_days)   # doctest: +SKIP
    >>> task.start()          # in the app's lifespan; `await task.stop()` on shutdown   # doctest: +SKIP
    """

    def __init__(
        self,
        store: TranscriptStore,
        days: int,
        *,
        interval_s: float = DAY_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        cutoff_for(days, clock())  # validate now, not a day later
        self.store, self.days, self.interval_s = store, days, interval_s
        self._clock, self._sleep = clock, sleep
        self._task: asyncio.Task[None] | None = None
        self.runs = 0
        self.deleted = 0

    async def run_once(self) -> int:
        cutoff = cutoff_for(self.days, self._clock())
        # The delete is blocking database work; keep it off the loop that serves live calls.
        count = await asyncio.to_thread(self.store.delete_older_than, cutoff)
        self.runs += 1
        self.deleted += count
        if count:
            log.info("retention: deleted %d call(s) started before %s", count, cutoff.isoformat())
        return count

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end the daily schedule; try again tomorrow
                log.exception("retention: deleting old calls failed")
            await self._sleep(self.interval_s)

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="review-retention")
        return self._task

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
