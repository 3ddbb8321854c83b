"""What a caller put through to staff had come with, kept until Twilio reports how the transfer went.

Twilio posts the dial result to any instance behind the proxy, and the callback is offered on a new media
stream there, so the question must outlive the instance that started the transfer: the transcript store keeps
it (`review.store.TranscriptStore` implements `TransferQuestions`). Without a store (a test, a single process)
it is kept in memory.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol, runtime_checkable

log = logging.getLogger("hotline.twilio")


@runtime_checkable
class TransferQuestions(Protocol):
    def hold_transfer_question(self, call_id: str, question: str, at: datetime) -> None: ...

    def take_transfer_question(self, call_id: str) -> str | None: ...

    def read_transfer_question(self, call_id: str) -> str | None: ...


class QuestionsInMemory:
    """For one process without a database."""

    def __init__(self) -> None:
        self._questions: dict[str, str] = {}

    def hold_transfer_question(self, call_id: str, question: str, at: datetime) -> None:
        self._questions[call_id] = question

    def take_transfer_question(self, call_id: str) -> str | None:
        return self._questions.pop(call_id, None)

    def read_transfer_question(self, call_id: str) -> str | None:
        return self._questions.get(call_id)


class Handover:
    """The phone line's side: never lets a store fault break the call (the callback then asks afresh)."""

    def __init__(self, questions: TransferQuestions) -> None:
        self.questions = questions

    async def hold(self, call_id: str, question: str, at: datetime) -> None:
        try:
            await asyncio.to_thread(self.questions.hold_transfer_question, call_id, question, at)
        except Exception as exc:  # noqa: BLE001 - any store fault; the transfer goes on
            log.error("call %s: could not keep the question for the transfer (%s)", call_id, type(exc).__name__)

    async def take(self, call_id: str) -> str | None:
        try:
            return await asyncio.to_thread(self.questions.take_transfer_question, call_id)
        except Exception as exc:  # noqa: BLE001
            log.error("call %s: could not read the question kept for the transfer (%s)", call_id,
                      type(exc).__name__)
            return None

    async def peek(self, call_id: str) -> str | None:
        """The question, left in place: the whisper to staff reads it, the dial result still needs it."""
        try:
            return await asyncio.to_thread(self.questions.read_transfer_question, call_id)
        except Exception as exc:  # noqa: BLE001 - the whisper then says there was no question
            log.error("call %s: could not read the question for the whisper (%s)", call_id, type(exc).__name__)
            return None
