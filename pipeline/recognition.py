"""Speech recognition shared fairly: phone turns first, then widget turns, then live captions.

Whisper has the machine's cores, and everything that wants a transcript waits for it. Without an order a
visitor's captions (one every 1.5 s of speech) queue in front of a caller's question, and one address with
many widget sockets makes every phone call slow. So work waits in one bounded queue per class, and a free
worker always takes from the most urgent queue first.

A caption that finds its queue full is not made (the next one will be). A turn that finds its queue full
fails at once with `RecognitionBusy`: the voice agent answers that with its fault apology instead of leaving
the caller in silence behind work that cannot be overtaken.

>>> queue = RecognitionQueue(RecognitionLimits(workers=1))
>>> transcript = await queue.run(PHONE, lambda: transcriber.transcribe(audio, "de"))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

PHONE, WIDGET, CAPTION = "phone", "widget", "caption"
PRIORITIES = (PHONE, WIDGET, CAPTION)  # most urgent first
T = TypeVar("T")


@dataclass(frozen=True)
class RecognitionLimits:
    """How many transcriptions run at once, and how many of each class may wait."""

    # Each worker hands one transcription to the recogniser at a time. The recogniser bounds the CPU itself
    # (its own workers), and batches what reaches it while it is busy, so more workers than it has keep its
    # batches full; fewer would make a burst of phone turns wait in single file.
    workers: int = 1
    phone_queue: int = 32
    widget_queue: int = 32
    caption_queue: int = 4

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError("recognition needs at least one worker")
        if min(self.phone_queue, self.widget_queue, self.caption_queue) < 0:
            raise ValueError("a recognition queue cannot hold fewer than 0 transcriptions")

    def bound(self, priority: str) -> int:
        return {PHONE: self.phone_queue, WIDGET: self.widget_queue, CAPTION: self.caption_queue}[priority]


class RecognitionBusy(RuntimeError):
    """A turn's transcription did not fit in its queue: the recogniser is overloaded."""


@dataclass
class _Request:
    work: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)
    still_wanted: Callable[[], bool] | None = None


class RecognitionQueue:
    """Bounded queues per priority in front of a fixed number of worker threads."""

    def __init__(self, limits: RecognitionLimits | None = None, name: str = "recognition") -> None:
        self.limits = limits or RecognitionLimits()
        self.name = name
        self._queues: dict[str, deque[_Request]] = {p: deque() for p in PRIORITIES}
        self._ready = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._closed = False

    @property
    def depth(self) -> int:
        """Transcriptions waiting for a worker, all classes together (what /metrics shows)."""
        with self._ready:
            return sum(self._live(queue) for queue in self._queues.values())

    def waiting(self, priority: str) -> int:
        with self._ready:
            return self._live(self._queues[priority])

    def submit(self, priority: str, work: Callable[[], T],
               still_wanted: Callable[[], bool] | None = None) -> Future[T] | None:
        """Queue `work`; None when it is a caption that does not fit. `still_wanted` is asked when a worker
        takes it: work that lost its point while it waited (the caller went on speaking) is skipped (None)."""
        if priority not in PRIORITIES:
            raise ValueError(f"unknown recognition priority {priority!r}; one of {PRIORITIES}")
        request = _Request(work, still_wanted=still_wanted)
        with self._ready:
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            queue = self._queues[priority]
            while queue and queue[0].future.cancelled():
                queue.popleft()
            waiting, bound = self._live(queue), self.limits.bound(priority)
            if waiting >= bound:
                if priority == CAPTION:
                    return None
                raise RecognitionBusy(f"{waiting} {priority} transcriptions are waiting already (the queue holds "
                                      f"{bound}); give speech recognition more cores or raise "
                                      f"voice.stt_queue_{priority}")
            queue.append(request)
            self._start_workers()
            self._ready.notify()
        return request.future

    async def run(self, priority: str, work: Callable[[], T],
                  still_wanted: Callable[[], bool] | None = None) -> T | None:
        """`submit` and wait; cancelling the wait takes work still queued out of its queue."""
        future = self.submit(priority, work, still_wanted)
        if future is None:
            return None
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Workers finish what they run and stop; what still waits is cancelled."""
        with self._ready:
            self._closed = True
            for queue in self._queues.values():
                while queue:
                    queue.popleft().future.cancel()
            self._ready.notify_all()

    # --- workers ---------------------------------------------------------------------------------------
    @staticmethod
    def _live(queue: deque[_Request]) -> int:
        return sum(1 for request in queue if not request.future.cancelled())

    def _start_workers(self) -> None:
        """Started on first use, so that loading the services for a test or a command spawns no threads."""
        while len(self._workers) < self.limits.workers:
            worker = threading.Thread(target=self._work, name=f"{self.name}-{len(self._workers)}", daemon=True)
            self._workers.append(worker)
            worker.start()

    def _next(self) -> _Request | None:
        with self._ready:
            while True:
                for priority in PRIORITIES:
                    if self._queues[priority]:
                        return self._queues[priority].popleft()
                if self._closed:
                    return None
                self._ready.wait()

    def _work(self) -> None:
        while (request := self._next()) is not None:
            if not request.future.set_running_or_notify_cancel():
                continue  # its caller stopped waiting while it queued
            try:
                if request.still_wanted is not None and not request.still_wanted():
                    request.future.set_result(None)
                    continue
                request.future.set_result(request.work())
            except BaseException as exc:  # noqa: BLE001 - the caller waiting on it meets the fault
                request.future.set_exception(exc)
