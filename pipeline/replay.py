"""`hotline call` and the benchmarks: an audio file fed to a `VoiceAgent` exactly as a live caller would be."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from pipeline.dialogue import Reply
from pipeline.records import TranscriptSink
from pipeline.services import VoiceServices
from pipeline.voice_agent import AgentEvent, VoiceAgent
from voice.audio import Audio

CHUNK_S = 0.02  # the phone and the widget both deliver 20 ms frames
TRAILING_SILENCE_S = 1.0


@dataclass
class TurnResult:
    transcript: str = field(default="", repr=False)
    reply: Reply | None = None
    audio: list[Audio] = field(default_factory=list)


async def replay(services: VoiceServices, audio: Audio, rate: int = 16_000, language: str | None = None,
                 at: datetime | None = None, sink: TranscriptSink | None = None, realtime: bool = True,
                 channel: str = "cli") -> tuple[str, list[TurnResult]]:
    """Feed `audio` in 20 ms chunks (paced like a live call when `realtime`) and collect each turn."""
    call_id = f"{channel}-{uuid.uuid4().hex[:12]}"
    clock = (lambda: at) if at else None
    turns: list[TurnResult] = []

    async def on_event(event: AgentEvent) -> None:
        if event.kind == "final":
            turns.append(TurnResult(transcript=event.text))
        elif event.kind == "reply":
            if not turns or turns[-1].reply is not None:
                turns.append(TurnResult())
            turns[-1].reply = event.reply
        elif event.kind == "audio" and event.audio is not None and turns:
            turns[-1].audio.append(event.audio)

    kwargs = {"clock": clock} if clock else {}
    agent = VoiceAgent(services, rate, channel, call_id, sink=sink, language=language, on_event=on_event, **kwargs)
    await agent.start()
    samples = np.concatenate([audio.at_rate(rate).samples, np.zeros(int(TRAILING_SILENCE_S * rate), np.float32)])
    step = int(CHUNK_S * rate)
    started = time.monotonic()
    for index, offset in enumerate(range(0, len(samples), step)):
        if realtime:
            delay = started + index * CHUNK_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await agent.feed(samples[offset : offset + step])
    await agent.finish_input()
    await agent.close("completed")
    return call_id, turns
