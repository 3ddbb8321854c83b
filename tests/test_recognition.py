"""Speech recognition under load: phone turns go first, widget turns next, captions last and dropped first.

Real worker threads run a real blocking function (it waits on an event the test sets), so the order is the
order in which a busy recogniser would take the work.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from pipeline.recognition import CAPTION, PHONE, WIDGET, RecognitionBusy, RecognitionLimits, RecognitionQueue


class Recogniser:
    """Stands in for Whisper: each job blocks until the test lets the recogniser go, and says who it was."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.started = threading.Event()
        self.order: list[str] = []

    def job(self, name: str):
        def transcribe() -> str:
            self.started.set()
            self.go.wait(10)
            self.order.append(name)
            return name
        return transcribe


def busy_queue(**limits: int) -> tuple[RecognitionQueue, Recogniser]:
    """One worker, already busy with a phone turn that will not finish until the test says so."""
    queue = RecognitionQueue(RecognitionLimits(workers=1, **limits))
    recogniser = Recogniser()
    queue.submit(PHONE, recogniser.job("first call"))
    assert recogniser.started.wait(5)
    return queue, recogniser


def test_phone_turns_go_first_then_widget_turns_then_captions() -> None:
    queue, recogniser = busy_queue()
    futures = [queue.submit(CAPTION, recogniser.job("caption")),
               queue.submit(WIDGET, recogniser.job("widget turn")),
               queue.submit(PHONE, recogniser.job("second call"))]
    assert queue.depth == 3
    recogniser.go.set()
    assert [f.result(10) for f in futures if f] == ["caption", "widget turn", "second call"]
    assert recogniser.order == ["first call", "second call", "widget turn", "caption"]
    queue.close()


def test_a_full_recogniser_drops_captions_before_it_refuses_a_widget_turn() -> None:
    queue, recogniser = busy_queue(caption_queue=1, widget_queue=2)
    assert queue.submit(CAPTION, recogniser.job("caption 1")) is not None
    assert queue.submit(CAPTION, recogniser.job("caption 2")) is None  # dropped, quietly
    widget_turns = [queue.submit(WIDGET, recogniser.job(f"widget turn {i}")) for i in (1, 2)]
    with pytest.raises(RecognitionBusy, match="voice.stt_queue_widget"):
        queue.submit(WIDGET, recogniser.job("widget turn 3"))
    # A phone turn still gets in: its queue is its own.
    phone = queue.submit(PHONE, recogniser.job("second call"))
    assert queue.waiting(CAPTION) == 1 and queue.waiting(WIDGET) == 2 and queue.waiting(PHONE) == 1
    recogniser.go.set()
    assert phone is not None and phone.result(10) == "second call"
    assert all(f is not None and f.result(10) for f in widget_turns)
    assert recogniser.order == ["first call", "second call", "widget turn 1", "widget turn 2", "caption 1"]
    assert queue.depth == 0
    queue.close()


def test_a_turn_the_caller_talked_past_gives_its_place_to_the_next() -> None:
    queue, recogniser = busy_queue()
    dropped = threading.Event()
    early = queue.submit(PHONE, recogniser.job("speculation"), still_wanted=lambda: not dropped.is_set())
    later = queue.submit(WIDGET, recogniser.job("widget turn"))
    dropped.set()  # the caller went on speaking while it waited
    recogniser.go.set()
    assert early is not None and later is not None
    assert early.result(10) is None and later.result(10) == "widget turn"
    assert recogniser.order == ["first call", "widget turn"]
    queue.close()


async def test_waiting_callers_get_their_result_or_the_fault_and_a_cancelled_wait_runs_nothing() -> None:
    queue, recogniser = busy_queue(phone_queue=2)

    def broken() -> str:
        raise OSError("the model file cannot be read")

    fault = asyncio.ensure_future(queue.run(PHONE, broken))
    abandoned = asyncio.ensure_future(queue.run(PHONE, recogniser.job("hung up")))
    await asyncio.sleep(0.05)
    abandoned.cancel()  # the caller hung up while the turn waited
    await asyncio.gather(abandoned, return_exceptions=True)
    assert queue.depth == 1
    recogniser.go.set()
    with pytest.raises(OSError, match="cannot be read"):
        await fault
    assert await queue.run(WIDGET, recogniser.job("widget turn")) == "widget turn"
    assert recogniser.order == ["first call", "widget turn"]
    queue.close()


def test_workers_run_side_by_side_up_to_the_configured_number() -> None:
    queue = RecognitionQueue(RecognitionLimits(workers=3))
    running, most, lock = 0, 0, threading.Lock()

    def transcribe() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1

    futures = [queue.submit(WIDGET, transcribe) for _ in range(9)]
    for future in futures:
        assert future is not None
        future.result(10)
    assert most == 3
    queue.close()


def test_a_phone_caller_outranks_every_other_channel() -> None:
    from pipeline.voice_agent import recognition_priority

    assert recognition_priority("phone") == PHONE
    assert {recognition_priority(channel) for channel in ("widget", "cli", "api")} == {WIDGET}
