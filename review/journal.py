"""A local journal in front of the transcript store: calls go on, and nothing is lost, while the database is away.

    sink = JournaledSink(store, settings.data_dir / "journal")
    sink.start()          # takes over journals left by processes that died, starts the flusher
    ...                   # the channels write to `sink` as to the store
    sink.close()

Every write (a call's start and end, turns, statuses, callbacks, a caller's objection) is appended to this
process's journal file and fsync'ed before the call goes on; a background thread applies the journal to the
store in order, as soon as the store answers, with backoff while it does not. The store's writes are
idempotent (see `pipeline.records.TranscriptSink`), so an entry applied twice (the process died between
applying it and noting that) changes nothing. Once everything is applied the file is emptied: transcripts do
not linger on disk beside the database. A caller's objection removes their turns from the journal as well.

Each process owns one journal, `journal-<id>.jsonl`, and holds an exclusive lock on `journal-<id>.lock` while
it lives; a journal whose lock nobody holds belongs to a process that is gone, and the next process to start
replays it. Several server processes may share one data folder.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError

from pipeline.records import CallbackRequest, CallRecord, SourceRecord, TranscriptSink, TurnRecord

log = logging.getLogger("hotline.journal")

RETRY_MIN_S = 0.5
RETRY_MAX_S = 30.0
# The record itself cannot be stored (a value the schema refuses): retrying would block every later write.
REJECTED = (IntegrityError, DataError, ValueError, TypeError, KeyError)


@dataclass(frozen=True)
class Entry:
    seq: int
    op: str  # start_call, add_turn, end_call, add_callback, add_status, forget_transcript
    call_id: str
    data: dict[str, Any]
    written: float  # time.time() when journaled

    def line(self) -> bytes:
        record = {"seq": self.seq, "op": self.op, "call": self.call_id, "data": self.data, "at": self.written}
        return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@dataclass(frozen=True)
class JournalHealth:
    pending: int  # writes journaled but not yet in the store
    oldest_s: float  # how long the oldest of them has waited
    store: str  # up, down, or unknown (nothing written yet)
    last_error: str | None  # the store's last fault (its type), while it is down
    rejected: int  # entries the store refused as malformed, kept in rejected.jsonl

    def to_json(self) -> dict[str, Any]:
        return {"pending": self.pending, "oldest_s": round(self.oldest_s, 1), "store": self.store,
                "last_error": self.last_error, "rejected": self.rejected}


class JournaledSink:
    """Implements `TranscriptSink` over another one (the `TranscriptStore`), through a durable local journal."""

    def __init__(self, store: TranscriptSink, folder: Path, *, retry_min_s: float = RETRY_MIN_S,
                 retry_max_s: float = RETRY_MAX_S) -> None:
        self.store = store
        self.folder = folder
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.name = f"journal-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = folder / f"{self.name}.jsonl"
        self._lock_path = folder / f"{self.name}.lock"
        self._pending: deque[Entry] = deque()
        self._changed = threading.Condition()  # guards _pending, _file and the counters below
        self._file: Any = None
        self._lock_file: Any = None
        self._seq = 0
        self._store_state = "unknown"
        self._last_error: str | None = None
        self._rejected = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- life -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Own a journal, take over the ones left by processes that are gone, and start applying them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self._lock_path, "wb")  # noqa: SIM115 - held open (and locked) for the process's life
        fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._file = self._open_journal(self.path)
        taken = self._take_over_orphans()
        if taken:
            log.warning("journal: replaying %d writes left by a process that stopped before they reached the "
                        "transcript store", taken)
        self._thread = threading.Thread(target=self._flush_forever, name="journal flusher", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Apply what the store takes within `timeout_s`, then stop; what is left stays for the next start."""
        self.wait_flushed(timeout_s)
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._changed:
            empty = not self._pending
            if self._file is not None:
                self._file.close()
                self._file = None
        if empty:
            self.path.unlink(missing_ok=True)
        if self._lock_file is not None:
            if empty:
                self._lock_path.unlink(missing_ok=True)
            self._lock_file.close()  # releases the lock: a journal left behind is an orphan now
            self._lock_file = None

    def wait_flushed(self, timeout_s: float) -> bool:
        """Until every write journaled so far is in the store (True), or `timeout_s` has passed (False)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def health(self) -> JournalHealth:
        with self._changed:
            oldest = time.time() - self._pending[0].written if self._pending else 0.0
            return JournalHealth(len(self._pending), max(0.0, oldest), self._store_state, self._last_error,
                                 self._rejected)

    # --- TranscriptSink --------------------------------------------------------------------------------
    def start_call(self, call: CallRecord) -> None:
        self._append("start_call", call.call_id, _call_data(call))

    def add_turn(self, call_id: str, turn: TurnRecord) -> None:
        self._append("add_turn", call_id, _turn_data(turn))

    def end_call(self, call_id: str, ended_at: datetime, outcome: str) -> None:
        self._append("end_call", call_id, {"ended_at": ended_at.isoformat(), "outcome": outcome})

    def add_callback(self, request: CallbackRequest) -> int:
        """Returns the journal's sequence number of the request (the store's row id is not known yet)."""
        return self._append("add_callback", request.call_id, _callback_data(request))

    def add_status(self, call_id: str, status: str, at: datetime) -> None:
        self._append("add_status", call_id, {"status": status, "at": at.isoformat()})

    def forget_transcript(self, call_id: str) -> None:
        """Drop the call's turns not yet in the store from the journal (on disk too), then delete the rest
        from the store (journaled as well, so it happens even if the store is away now)."""
        with self._changed:
            # Rewritten even when nothing is pending: applied turns may still be in the file.
            self._pending = deque(e for e in self._pending if not (e.call_id == call_id and e.op == "add_turn"))
            self._rewrite()
        self._append("forget_transcript", call_id, {})

    # --- the journal file ------------------------------------------------------------------------------
    def _append(self, op: str, call_id: str, data: dict[str, Any]) -> int:
        with self._changed:
            self._seq += 1
            entry = Entry(self._seq, op, call_id, data, time.time())
            if self._file is None:  # not started (or closed): straight to the store, as without a journal
                self._apply(entry)
                return entry.seq
            self._file.write(entry.line())
            self._file.flush()
            os.fsync(self._file.fileno())
            self._pending.append(entry)
            self._changed.notify_all()
            return entry.seq

    def _rewrite(self) -> None:
        """Replace the journal file with exactly the pending entries (caller holds the lock)."""
        if self._file is None:
            return
        staging = self.path.with_suffix(".rewrite")
        with open(staging, "wb") as out:
            os.chmod(staging, 0o600)
            out.writelines(entry.line() for entry in self._pending)
            out.flush()
            os.fsync(out.fileno())
        self._file.close()
        os.replace(staging, self.path)
        _fsync_folder(self.folder)
        self._file = self._open_journal(self.path)

    def _open_journal(self, path: Path) -> Any:
        handle = open(path, "ab")  # noqa: SIM115 - the journal stays open for appends
        os.chmod(path, 0o600)  # transcripts and callback numbers: the owner only
        return handle

    def _take_over_orphans(self) -> int:
        taken = 0
        journals = sorted(self.folder.glob("journal-*.jsonl"), key=lambda p: p.stat().st_mtime)
        for journal in journals:
            if journal == self.path:
                continue
            lock_path = journal.with_suffix(".lock")
            lock = open(lock_path, "ab")  # noqa: SIM115 - closed below
            try:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process's journal
                entries = _read_journal(journal)
                with self._changed:
                    for op, call_id, data, written in entries:
                        self._seq += 1
                        entry = Entry(self._seq, op, call_id, data, written)
                        self._file.write(entry.line())
                        self._pending.append(entry)
                    self._file.flush()
                    os.fsync(self._file.fileno())
                journal.unlink()
                lock_path.unlink(missing_ok=True)
                taken += len(entries)
            finally:
                lock.close()
        return taken

    # --- applying it to the store ----------------------------------------------------------------------
    def _flush_forever(self) -> None:
        delay = self.retry_min_s
        while True:
            with self._changed:
                while not self._pending and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                entry = self._pending[0]
            try:
                self._apply(entry)
            except REJECTED as exc:
                self._reject(entry, exc)
            except Exception as exc:  # noqa: BLE001 - the store is away (or unwell): keep the entry, retry
                with self._changed:
                    if self._store_state != "down":
                        log.error("journal: the transcript store failed (%s); writes are kept in %s and "
                                  "retried", type(exc).__name__, self.path)
                    self._store_state, self._last_error = "down", type(exc).__name__
                    self._changed.wait(delay)  # close() wakes it
                delay = min(self.retry_max_s, delay * 2)
                continue
            delay = self.retry_min_s
            with self._changed:
                if self._store_state == "down":
                    log.warning("journal: the transcript store answers again; %d writes to catch up",
                                len(self._pending))
                self._store_state, self._last_error = "up", None
                self._done(entry)

    def _done(self, entry: Entry) -> None:
        """`entry` is in the store (caller holds the lock). A forget may have removed it meanwhile."""
        if self._pending and self._pending[0] is entry:
            self._pending.popleft()
        if not self._pending and self._file is not None:
            # Everything is in the store: nothing of the transcripts stays in the journal.
            self._file.truncate(0)
            self._file.flush()
            os.fsync(self._file.fileno())
        self._changed.notify_all()

    def _reject(self, entry: Entry, exc: Exception) -> None:
        log.error("journal: the store refused %s for call %s (%s); kept in rejected.jsonl", entry.op,
                  entry.call_id, type(exc).__name__)
        rejected = self.folder / "rejected.jsonl"
        with open(rejected, "ab") as out:
            os.chmod(rejected, 0o600)
            out.write(entry.line())
            out.flush()
            os.fsync(out.fileno())
        with self._changed:
            self._rejected += 1
            self._done(entry)

    def _apply(self, entry: Entry) -> None:
        APPLY[entry.op](self.store, entry.call_id, entry.data)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _read_journal(path: Path) -> list[tuple[str, str, dict[str, Any], float]]:
    entries = []
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            entries.append((str(record["op"]), str(record["call"]), dict(record["data"]),
                            float(record.get("at") or time.time())))
        except (ValueError, KeyError, TypeError):
            # Only the last line can be torn (the process died while writing it), and then it was never
            # acknowledged to the call: nothing that was promised is lost.
            log.warning("journal %s: line %d is incomplete; skipped", path.name, number)
    return entries


# --- records as JSON and back -----------------------------------------------------------------------------
def _call_data(call: CallRecord) -> dict[str, Any]:
    return {"channel": call.channel, "started_at": call.started_at.isoformat(),
            "caller_number": call.caller_number, "language": call.language}


def _turn_data(turn: TurnRecord) -> dict[str, Any]:
    return {
        "index": turn.index, "at": turn.at.isoformat(), "transcript": turn.transcript, "language": turn.language,
        "action": turn.action, "answer": turn.answer, "detected_language": turn.detected_language,
        "language_confidence": turn.language_confidence, "topic": turn.topic,
        "sources": [[s.title, s.url] for s in turn.sources], "confidence": turn.confidence,
        "intent": turn.intent, "unanswered": turn.unanswered, "barge_in": turn.barge_in, "error": turn.error,
        "timings_ms": turn.timings_ms, "ending": turn.ending,
    }


def _callback_data(request: CallbackRequest) -> dict[str, Any]:
    return {"language": request.language, "question": request.question,
            "created_at": request.created_at.isoformat(), "number": request.number, "name": request.name,
            "email": request.email}


def _turn(data: dict[str, Any]) -> TurnRecord:
    fields = dict(data)
    fields["at"] = datetime.fromisoformat(fields["at"])
    fields["sources"] = tuple(SourceRecord(title, url) for title, url in fields["sources"])
    return TurnRecord(**fields)


APPLY: dict[str, Callable[[TranscriptSink, str, dict[str, Any]], object]] = {
    "start_call": lambda store, call_id, d: store.start_call(CallRecord(
        call_id, d["channel"], datetime.fromisoformat(d["started_at"]), d["caller_number"], d["language"])),
    "add_turn": lambda store, call_id, d: store.add_turn(call_id, _turn(d)),
    "end_call": lambda store, call_id, d: store.end_call(call_id, datetime.fromisoformat(d["ended_at"]),
                                                         d["outcome"]),
    "add_callback": lambda store, call_id, d: store.add_callback(CallbackRequest(
        call_id, d["language"], d["question"], datetime.fromisoformat(d["created_at"]), d["number"], d["name"],
        d["email"])),
    "add_status": lambda store, call_id, d: store.add_status(call_id, d["status"],
                                                             datetime.fromisoformat(d["at"])),
    "forget_transcript": lambda store, call_id, d: store.forget_transcript(call_id),
}
