"""Export of calls for analysis elsewhere: CSV (one row per turn) and JSON (calls with nested turns)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence

from review.queries import CallDetail, jsonable

CSV_COLUMNS = (
    "call_id", "channel", "started_at", "ended_at", "outcome", "call_language", "caller_number",
    "turn", "at", "language", "detected_language", "language_confidence", "transcript", "action", "answer",
    "topic", "sources", "confidence", "intent", "unanswered", "barge_in", "error", "voice_to_voice_ms",
    "flags", "ending",
)
# A cell starting with one of these is run as a formula by spreadsheet programs; callers' words must not be.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ...unless the cell is only a number such as "+49 641 306-2280", which no spreadsheet runs as code.
_PLAIN_NUMBER = re.compile(r"^[+\-]?[\d ()/.\-]+$")


def to_csv(calls: Sequence[CallDetail]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for detail in calls:
        call = detail.call
        head = [call.id, call.channel, call.started_at.isoformat(),
                call.ended_at.isoformat() if call.ended_at else "", call.outcome or "", call.language or "",
                call.caller_number or ""]
        if not detail.turns:
            writer.writerow(_cells(head + [""] * (len(CSV_COLUMNS) - len(head))))
        for turn in detail.turns:
            writer.writerow(_cells(head + [
                turn.index, turn.at.isoformat(), turn.language, turn.detected_language or "",
                "" if turn.language_confidence is None else turn.language_confidence, turn.transcript,
                turn.action, turn.answer, turn.topic or "",
                " | ".join(f"{s.title} <{s.url}>" for s in turn.sources), turn.confidence, turn.intent or "",
                int(turn.unanswered), int(turn.barge_in), turn.error or "",
                turn.timings_ms.get("voice_to_voice", ""), " | ".join(f.note for f in turn.flags),
                turn.ending or "",
            ]))
    return out.getvalue()


def to_json(calls: Sequence[CallDetail]) -> str:
    records = []
    for detail in calls:
        record = jsonable(detail.call)
        record["turns"] = jsonable(list(detail.turns))
        record["statuses"] = [{"status": s, "at": at.isoformat()} for s, at in detail.statuses]
        record["callbacks"] = jsonable(list(detail.callbacks))
        records.append(record)
    return json.dumps({"calls": records}, ensure_ascii=False, indent=2)


def _cells(values: list[object]) -> list[object]:
    return [
        f"'{v}" if isinstance(v, str) and v.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(v) else v
        for v in values
    ]
