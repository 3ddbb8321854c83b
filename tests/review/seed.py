"""A small, realistic set of calls, as the pipeline would write them."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.records import CallbackRequest, CallRecord, SourceRecord, TurnRecord
from review.store import TranscriptStore

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=BERLIN)
AUSLAENDERBEHOERDE = SourceRecord("Ausländerbehörde Gießen", "https://www.giessen.de/auslaenderbehoerde")


def turn(index: int, at: datetime, question: str, answer: str, *, language: str = "de", action: str = "answer",
         **extra: object) -> TurnRecord:
    return TurnRecord(index=index, at=at, transcript=question, language=language, action=action, answer=answer,
                      **extra)  # type: ignore[arg-type]


def seed_calls(store: TranscriptStore, now: datetime = NOW) -> dict[str, str]:
    """Five calls over the last days plus one past retention; returns names -> call ids."""
    day = timedelta(days=1)
    t0 = now - 2 * day
    store.start_call(CallRecord("call-de-answered", "phone", t0, caller_number="+49 171 2345678", language="de"))
    store.add_turn("call-de-answered", turn(
        0, t0 + timedelta(seconds=8), "Wie verlängere ich meinen Aufenthaltstitel?",
        "Den Aufenthaltstitel verlängern Sie bei der Ausländerbehörde.", topic="aufenthaltstitel",
        sources=(AUSLAENDERBEHOERDE,), confidence=0.82, detected_language="de", language_confidence=0.97,
        timings_ms={"stt": 310.0, "voice_to_voice": 1200.0}))
    store.add_turn("call-de-answered", turn(
        1, t0 + timedelta(seconds=30), "Können Sie mich zurückrufen?", "Gern, wir rufen Sie zurück.",
        intent="callback", confidence=1.0, timings_ms={"voice_to_voice": 900.0}))
    store.add_callback(CallbackRequest("call-de-answered", "de", "Wie verlängere ich meinen Aufenthaltstitel?",
                                       t0 + timedelta(seconds=40), number="+49 171 2345678"))
    store.end_call("call-de-answered", t0 + timedelta(minutes=1), "completed")

    t1 = now - day
    store.start_call(CallRecord("call-en-transfer", "widget", t1, language="en"))
    store.add_turn("call-en-transfer", turn(
        0, t1 + timedelta(seconds=5), "I want to talk to a person about my blue card", "I'll connect you.",
        language="en", action="transfer", intent="human", confidence=1.0, timings_ms={"voice_to_voice": 1500.0}))
    store.end_call("call-en-transfer", t1 + timedelta(minutes=2), "transferred")

    t2 = now - timedelta(hours=3)
    store.start_call(CallRecord("call-ar-unanswered", "phone", t2, language="ar"))
    store.add_turn("call-ar-unanswered", turn(
        0, t2 + timedelta(seconds=6), "أين أجد طبيب أسنان يتكلم العربية؟", "عذراً، لا أعرف الإجابة.",
        language="ar", action="clarify", unanswered=True, confidence=0.12, timings_ms={"voice_to_voice": 2100.0}))
    store.add_turn("call-ar-unanswered", turn(
        1, t2 + timedelta(seconds=40), "Zahnarzt arabisch Gießen", "Das weiß ich leider nicht.",
        language="de", action="clarify", unanswered=True, confidence=0.2, barge_in=True))

    t3 = now - timedelta(hours=1)
    store.start_call(CallRecord("call-de-closed", "phone", t3))
    store.add_turn("call-de-closed", turn(
        0, t3 + timedelta(seconds=3), "", "Wir haben gerade geschlossen. Unsere Zeiten: Mo-Do 9-16 Uhr.",
        action="closed", intent="closed", confidence=1.0))
    store.end_call("call-de-closed", t3 + timedelta(seconds=20), "closed")

    t4 = now - timedelta(minutes=30)
    store.start_call(CallRecord("call-cli-gaps", "cli", t4, language="de"))
    for i, question in enumerate(["Wo kann ich meine Wohnung anmelden?", "Wohnung anmelden in Wetzlar",
                                  "Wie melde ich meinen Hund an?"]):
        store.add_turn("call-cli-gaps", turn(i, t4 + timedelta(seconds=10 * i), question, "Bitte anders fragen.",
                                             action="clarify", unanswered=True, confidence=0.2))

    old = now - timedelta(days=120)
    store.start_call(CallRecord("call-old", "phone", old, caller_number="+49 641 999999", language="de"))
    store.add_turn("call-old", turn(0, old, "Eine alte Frage", "Eine alte Antwort", confidence=0.9))
    store.add_callback(CallbackRequest("call-old", "de", "Eine alte Frage", old, number="+49 641 999999"))
    store.add_status("call-old", "completed", old + timedelta(minutes=1))
    return {"old": "call-old"}
