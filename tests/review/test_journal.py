"""The journal in front of the transcript store, against a real PostgreSQL server that goes down and comes back.

Each test module that stops its database has a server of its own, so nothing else loses its store.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.records import CallbackRequest, CallRecord, TurnRecord
from review.journal import JournaledSink
from review.models import Callback, CallStatus, Turn
from review.store import TranscriptStore
from tests.review.postgres import MISSING, ThrowawayPostgres, find_binaries

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres() -> Iterator[ThrowawayPostgres]:
    binaries = find_binaries()
    if binaries is None:
        pytest.fail(MISSING, pytrace=False)
    server = ThrowawayPostgres(binaries)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def database(postgres: ThrowawayPostgres) -> Iterator[tuple[ThrowawayPostgres, str]]:
    url = postgres.empty_database_url()
    yield postgres, url
    if not postgres.is_running():  # a test that failed half-way must not leave the next without a database
        postgres.resume()


def turn(index: int, question: str, answer: str = "Eine Antwort.", ending: str | None = None) -> TurnRecord:
    return TurnRecord(index=index, at=NOW + timedelta(seconds=index), transcript=question, language="de",
                      action="answer", answer=answer, ending=ending)


def counts(store: TranscriptStore, call_id: str) -> tuple[int, int, int]:
    """Rows of turns, statuses and callbacks the database holds for the call."""
    with store.engine.connect() as db:
        return tuple(int(db.execute(select(func.count()).select_from(table).where(table.call_id == call_id))
                         .scalar_one()) for table in (Turn, CallStatus, Callback))  # type: ignore[return-value]


def journal_text(folder: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in folder.glob("journal-*.jsonl"))


def test_writes_made_while_the_database_is_down_reach_it_once_when_it_is_back(database, tmp_path: Path) -> None:
    postgres, url = database
    store = TranscriptStore(url)
    sink = JournaledSink(store, tmp_path / "journal", retry_min_s=0.1, retry_max_s=0.5)
    sink.start()
    sink.start_call(CallRecord("outage-1", "phone", NOW, language="de"))
    sink.add_turn("outage-1", turn(0, "Wie melde ich mich an?"))
    assert sink.wait_flushed(10) and sink.health().store == "up"

    postgres.halt()
    sink.add_turn("outage-1", turn(0, "Wie melde ich mich an?", ending="played"))  # the same turn, updated
    sink.add_turn("outage-1", turn(1, "Was kostet das Deutschlandticket?"))
    sink.add_status("outage-1", "in-progress", NOW + timedelta(seconds=2))
    sink.add_status("outage-1", "in-progress", NOW + timedelta(seconds=2))  # Twilio retried its callback
    sink.add_callback(CallbackRequest("outage-1", "de", "Bitte um Rückruf", NOW, number="+4915100000009"))
    sink.end_call("outage-1", NOW + timedelta(minutes=1), "hung_up")
    deadline = time.monotonic() + 15
    while sink.health().store != "down" and time.monotonic() < deadline:
        time.sleep(0.1)
    health = sink.health()
    assert health.store == "down" and health.pending == 6 and health.last_error
    assert "Deutschlandticket" in journal_text(tmp_path / "journal")  # on disk, fsync'ed, while the store is away

    postgres.resume()
    assert sink.wait_flushed(30), sink.health()
    detail = store.get_call("outage-1")
    assert detail is not None and detail.call.outcome == "hung_up"
    assert [(t.index, t.ending) for t in detail.turns] == [(0, "played"), (1, None)]
    assert counts(store, "outage-1") == (2, 1, 1)  # the status Twilio sent twice is stored once
    assert journal_text(tmp_path / "journal") == ""  # nothing of the transcript stays beside the database
    sink.close()
    store.close()


CRASHING_WRITER = textwrap.dedent("""
    import os, signal, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from pipeline.records import CallbackRequest, CallRecord, TurnRecord
    from review.journal import JournaledSink
    from review.store import TranscriptStore

    store = TranscriptStore(sys.argv[1])
    sink = JournaledSink(store, Path(sys.argv[2]), retry_min_s=0.1, retry_max_s=0.2)
    sink.start()
    print("ready", flush=True)
    sys.stdin.readline()  # the test stops the database now
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    sink.start_call(CallRecord("crash-1", "phone", now, language="de"))
    for index, question in enumerate(["Wo ist die Ausländerbehörde?", "Wann hat sie offen?"]):
        sink.add_turn("crash-1", TurnRecord(index=index, at=now, transcript=question, language="de",
                                            action="answer", answer="Im Kreishaus.", ending="played"))
    sink.add_status("crash-1", "in-progress", now)
    sink.add_callback(CallbackRequest("crash-1", "de", "Rückruf bitte", now, number="+4915100000008"))
    print("written", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close(), no flush: the process dies with its journal
""")


def test_a_journal_left_by_a_crashed_process_is_replayed_on_the_next_start_and_never_twice(
        database, tmp_path: Path) -> None:
    postgres, url = database
    TranscriptStore(url).close()  # the schema exists, as on a server that ran before
    folder = tmp_path / "journal"
    writer = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, url, str(folder)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert writer.stdout is not None and writer.stdin is not None
    assert writer.stdout.readline().strip() == "ready"
    postgres.halt()
    writer.stdin.write("go\n")
    writer.stdin.flush()
    assert writer.stdout.readline().strip() == "written"
    assert writer.wait(30) == -9  # killed
    [left] = list(folder.glob("journal-*.jsonl"))
    copy = tmp_path / "journal-copy.jsonl"
    shutil.copy(left, copy)

    postgres.resume()
    store = TranscriptStore(url)
    first = JournaledSink(store, folder)
    first.start()  # takes the dead process's journal over
    assert first.wait_flushed(30), first.health()
    detail = store.get_call("crash-1")
    assert detail is not None and [t.transcript for t in detail.turns] == ["Wo ist die Ausländerbehörde?",
                                                                          "Wann hat sie offen?"]
    assert counts(store, "crash-1") == (2, 1, 1)
    assert not left.exists()
    first.close()

    # The same journal once more (as if the process had died after applying it, before emptying it).
    shutil.copy(copy, folder / "journal-0-replayed.jsonl")
    second = JournaledSink(store, folder)
    second.start()
    assert second.wait_flushed(30)
    assert counts(store, "crash-1") == (2, 1, 1)
    second.close()
    store.close()


def test_an_objection_while_the_database_is_down_leaves_nothing_in_the_journal_or_the_store(
        database, tmp_path: Path) -> None:
    postgres, url = database
    store = TranscriptStore(url)
    folder = tmp_path / "journal"
    sink = JournaledSink(store, folder, retry_min_s=0.1, retry_max_s=0.5)
    sink.start()
    sink.start_call(CallRecord("objects-1", "phone", NOW))
    sink.add_turn("objects-1", turn(0, "Meine Frage zur Blauen Karte"))
    assert sink.wait_flushed(10)
    postgres.halt()
    sink.add_turn("objects-1", turn(1, "Noch eine Frage mit meinem Namen Amina"))
    sink.forget_transcript("objects-1")  # the caller pressed the star key
    text = journal_text(folder)
    assert "Amina" not in text and "Blauen Karte" not in text
    postgres.resume()
    assert sink.wait_flushed(30)
    assert store.get_call("objects-1").turns == ()
    sink.close()
    store.close()


def test_healthz_shows_the_journal_and_a_degraded_status_while_the_store_is_down(
        database, tmp_path: Path, settings, dialogue) -> None:
    from fastapi.testclient import TestClient

    from hotline.app import Services, create_app

    postgres, url = database
    store = TranscriptStore(url)
    sink = JournaledSink(store, tmp_path / "journal", retry_min_s=0.1, retry_max_s=0.5)
    sink.start()
    client = TestClient(create_app(Services(settings, dialogue, store=store, sink=sink, review_secret="x" * 32)))
    assert client.get("/healthz").json()["journal"] == {"pending": 0, "oldest_s": 0.0, "store": "unknown",
                                                        "last_error": None, "rejected": 0}
    postgres.halt()
    sink.add_status("health-1", "ringing", NOW)
    deadline = time.monotonic() + 15
    while client.get("/healthz").json()["status"] != "degraded" and time.monotonic() < deadline:
        time.sleep(0.1)
    health = client.get("/healthz").json()
    assert health["status"] == "degraded" and health["journal"]["pending"] == 1
    assert health["journal"]["store"] == "down"
    postgres.resume()
    assert sink.wait_flushed(30)
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["journal"]["pending"] == 0 and health["journal"]["store"] == "up"
    sink.close()
    store.close()
