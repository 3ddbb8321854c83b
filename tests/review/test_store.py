"""The transcript store as the pipeline and the review UI use it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

from sqlalchemy import func, select

from pipeline.records import CallbackRequest, CallRecord, TranscriptSink
from review.models import Call, Callback, CallStatus, Flag, Turn
from review.queries import CallFilters
from review.store import TranscriptStore
from tests.review.seed import NOW, seed_calls, turn


def ids(calls: list) -> set[str]:
    return {c.id for c in calls}


def test_the_store_is_a_transcript_sink(store: TranscriptStore) -> None:
    sink: TranscriptSink = store
    assert sink is store


def test_a_turn_is_visible_right_after_add_turn_even_if_the_call_never_ends(database_url: str) -> None:
    writer = TranscriptStore(database_url)
    writer.start_call(CallRecord("live-1", "phone", NOW))
    writer.add_turn("live-1", turn(0, NOW, "Wann hat das Bürgeramt offen?", "Montags von 8 bis 12 Uhr."))
    # Another connection (the review server) sees it at once: add_turn has committed.
    reader = TranscriptStore(database_url)
    detail = reader.get_call("live-1")
    assert detail is not None and detail.call.ended_at is None
    assert [t.transcript for t in detail.turns] == ["Wann hat das Bürgeramt offen?"]
    writer.engine.dispose()  # like a crash: the writer goes away without end_call
    assert reader.get_call("live-1").turns[0].answer == "Montags von 8 bis 12 Uhr."
    reader.close()


def test_a_turn_for_an_unknown_call_is_kept(store: TranscriptStore) -> None:
    store.add_turn("no-start", turn(0, NOW, "Hallo?", "Guten Tag."))
    detail = store.get_call("no-start")
    assert detail.call.channel == "unknown" and len(detail.turns) == 1
    store.start_call(CallRecord("no-start", "phone", NOW - timedelta(seconds=5), language="de"))
    assert store.get_call("no-start").call.channel == "phone"


def test_a_repeated_turn_index_replaces_the_turn(store: TranscriptStore) -> None:
    store.start_call(CallRecord("c", "cli", NOW))
    store.add_turn("c", turn(0, NOW, "first try", "a"))
    store.add_turn("c", turn(0, NOW, "second try", "b"))
    assert [t.transcript for t in store.get_call("c").turns] == ["second try"]


def test_the_call_page_has_everything_a_turn_recorded(store: TranscriptStore) -> None:
    seed_calls(store)
    detail = store.get_call("call-de-answered")
    first = detail.turns[0]
    assert detail.call.caller_number == "+49 171 2345678"  # consented: stored as given
    assert detail.call.outcome == "completed" and detail.call.ended_at is not None
    assert first.sources[0].url == "https://www.giessen.de/auslaenderbehoerde"
    assert first.detected_language == "de" and first.language_confidence == 0.97
    assert first.timings_ms == {"stt": 310.0, "voice_to_voice": 1200.0}
    assert first.at == NOW - timedelta(days=2) + timedelta(seconds=8)  # time zones survive the round trip
    assert detail.callbacks[0].number == "+49 171 2345678"
    barge = store.get_call("call-ar-unanswered").turns[1]
    assert barge.barge_in and barge.unanswered
    assert store.get_call("call-ar-unanswered").call.languages == ("ar", "de")


def test_phone_numbers_and_emails_in_transcripts_are_redacted_by_default(store: TranscriptStore) -> None:
    store.start_call(CallRecord("r", "phone", NOW, caller_number="0641 306-2280"))
    store.add_turn("r", turn(0, NOW, "Meine Nummer ist 0641 306-2280, Mail max@example.org, seit 2026",
                             "Rufen Sie +49 30 1815-1111 an. Das kostet 50.700 Euro.",
                             error="lookup failed for 06441 99 3310"))
    store.add_callback(CallbackRequest("r", "de", "Bitte unter 0171 2345678 zurückrufen", NOW,
                                       number="0171 2345678", email="max@example.org"))
    detail = store.get_call("r")
    assert detail.turns[0].transcript == "Meine Nummer ist [phone], Mail [email], seit 2026"
    assert detail.turns[0].answer == "Rufen Sie [phone] an. Das kostet 50.700 Euro."
    assert detail.turns[0].error == "lookup failed for [phone]"
    callback = store.list_callbacks()[0]
    assert callback.question == "Bitte unter [phone] zurückrufen"
    assert (callback.number, callback.email) == ("0171 2345678", "max@example.org")  # given for the callback
    assert detail.call.caller_number == "0641 306-2280"


def test_redaction_can_be_switched_off(database_url: str) -> None:
    store = TranscriptStore(database_url, redact_contacts=False)
    store.start_call(CallRecord("r", "phone", NOW))
    store.add_turn("r", turn(0, NOW, "Meine Nummer ist 0641 306-2280", "Schreiben Sie an info@example.org"))
    detail = store.get_call("r")
    assert detail.turns[0].transcript == "Meine Nummer ist 0641 306-2280"
    assert detail.turns[0].answer == "Schreiben Sie an info@example.org"
    store.close()


def test_calls_are_filtered_by_date_language_channel_and_outcome(store: TranscriptStore) -> None:
    seed_calls(store)
    assert ids(store.list_calls(CallFilters(language="ar"))) == {"call-ar-unanswered"}
    # A call counts for every language one of its turns was answered in.
    assert "call-ar-unanswered" in ids(store.list_calls(CallFilters(language="de")))
    assert ids(store.list_calls(CallFilters(channel="widget"))) == {"call-en-transfer"}
    assert ids(store.list_calls(CallFilters(action="transferred"))) == {"call-en-transfer"}
    assert ids(store.list_calls(CallFilters(action="closed"))) == {"call-de-closed"}
    assert ids(store.list_calls(CallFilters(action="unanswered"))) == {"call-ar-unanswered", "call-cli-gaps"}
    assert ids(store.list_calls(CallFilters(action="answered"))) == {"call-de-answered", "call-old"}
    today = NOW.date()
    assert ids(store.list_calls(CallFilters(date_from=today, date_to=today))) == {
        "call-ar-unanswered", "call-de-closed", "call-cli-gaps"}
    assert ids(store.list_calls(CallFilters(date_to=today - timedelta(days=2)))) == {"call-de-answered", "call-old"}
    assert store.count_calls(CallFilters(date_from=date(2026, 11, 19))) == 4
    combined = CallFilters(date_from=today, channel="phone", action="unanswered")
    assert ids(store.list_calls(combined)) == {"call-ar-unanswered"}


def test_the_calls_list_is_newest_first_and_paged(store: TranscriptStore) -> None:
    seed_calls(store)
    everything = store.list_calls()
    assert [c.id for c in everything][:2] == ["call-cli-gaps", "call-de-closed"]
    assert [c.id for c in store.list_calls(limit=2, offset=2)] == [c.id for c in everything[2:4]]
    assert store.count_calls() == 6
    assert everything[0].first_question == "Wo kann ich meine Wohnung anmelden?"
    assert everything[0].unanswered == 3 and everything[0].turn_count == 3


def test_search_finds_words_in_transcripts_and_answers_ignoring_case(store: TranscriptStore) -> None:
    seed_calls(store)
    assert ids(store.list_calls(CallFilters(query="aufenthaltstitel"))) == {"call-de-answered"}
    assert ids(store.list_calls(CallFilters(query="AUSLÄNDERBEHÖRDE"))) == {"call-de-answered"}  # in an answer
    assert ids(store.list_calls(CallFilters(query="blue card"))) == {"call-en-transfer"}
    assert ids(store.list_calls(CallFilters(query="طبيب"))) == {"call-ar-unanswered"}
    assert ids(store.list_calls(CallFilters(query="wohnung hund"))) == {"call-cli-gaps"}  # every word, any turn
    assert store.list_calls(CallFilters(query="wohnung blue")) == []
    assert store.list_calls(CallFilters(query="100%_")) == []  # LIKE wildcards are taken literally


def test_flags_are_stored_and_listed(store: TranscriptStore) -> None:
    seed_calls(store)
    target = store.get_call("call-de-answered").turns[0]
    flag_id = store.flag_turn(target.id, "anna", "Die Zuständigkeit liegt beim Kreis.")
    flags = store.list_flags()
    assert [(f.id, f.user, f.call_id, f.question) for f in flags] == [
        (flag_id, "anna", "call-de-answered", "Wie verlängere ich meinen Aufenthaltstitel?")]
    assert store.get_call("call-de-answered").turns[0].flags[0].note == "Die Zuständigkeit liegt beim Kreis."


def test_the_callback_queue_is_oldest_first_and_can_be_marked_done(store: TranscriptStore) -> None:
    seed_calls(store)
    queue = store.list_callbacks()
    assert [c.call_id for c in queue] == ["call-old", "call-de-answered"]
    assert store.mark_callback_done(queue[0].id, "anna") is True
    assert store.mark_callback_done(queue[0].id, "anna") is False  # done already
    assert store.mark_callback_done(999_999) is False
    assert [c.call_id for c in store.list_callbacks()] == ["call-de-answered"]
    done = store.list_callbacks(done=True)
    assert [(c.call_id, c.done_by) for c in done] == [("call-old", "anna")]


def test_knowledge_gaps_group_similar_unanswered_questions(store: TranscriptStore) -> None:
    seed_calls(store)
    groups = store.knowledge_gaps()
    by_label = {g.label: g for g in groups}
    flat = [q.question for g in groups for q in g.questions]
    assert "Wie verlängere ich meinen Aufenthaltstitel?" not in flat  # answered with high confidence
    housing = next(g for g in groups if "Wo kann ich meine Wohnung anmelden?" in [q.question for q in g.questions])
    assert {q.question for q in housing.questions} == {"Wo kann ich meine Wohnung anmelden?",
                                                       "Wohnung anmelden in Wetzlar"}
    assert groups[0] is housing  # the largest group first
    assert "Wie melde ich meinen Hund an?" in by_label
    assert len(flat) == 5


def test_low_confidence_answers_count_as_gaps(store: TranscriptStore) -> None:
    store.start_call(CallRecord("weak", "cli", NOW))
    store.add_turn("weak", turn(0, NOW, "Kindergeld für Studenten?", "Vielleicht...", confidence=0.4))
    store.add_turn("weak", turn(1, NOW, "Danke", "Gern", confidence=0.1, intent="thanks"))
    assert [g.label for g in store.knowledge_gaps()] == ["Kindergeld für Studenten?"]
    assert store.knowledge_gaps(low_confidence=0.3) == []


def test_dashboard_counts_calls_per_day_by_language_actions_and_latency(store: TranscriptStore) -> None:
    seed_calls(store)
    stats = store.dashboard_stats(7, now=NOW)
    today, yesterday, before = NOW.date(), NOW.date() - timedelta(days=1), NOW.date() - timedelta(days=2)
    assert len(stats.days) == 7 and stats.days[-1] == today
    assert stats.calls_by_language[today] == {"ar": 1, "de": 2}  # the closed call took its turn's language
    assert stats.calls_by_language[yesterday] == {"en": 1}
    assert stats.calls_by_language[before] == {"de": 1}
    assert stats.total_calls == 5  # the 120-day-old call is outside the period
    assert stats.action_mix == {"clarify": 5, "answer": 2, "transfer": 1, "closed": 1}
    latency = {p.day: p for p in stats.latency}
    assert (latency[before].p50, latency[before].samples) == (1050.0, 2)
    assert latency[before].p95 == 1185.0
    assert latency[today].p50 == 2100.0 and latency[today].samples == 1


def test_export_as_csv_has_a_row_per_turn_and_json_nests_turns(store: TranscriptStore) -> None:
    seed_calls(store)
    rows = list(csv.DictReader(io.StringIO(store.export_calls("csv"))))
    assert len(rows) == 2 + 1 + 2 + 1 + 3 + 1
    first = next(r for r in rows if r["call_id"] == "call-de-answered" and r["turn"] == "0")
    assert first["sources"] == "Ausländerbehörde Gießen <https://www.giessen.de/auslaenderbehoerde>"
    assert first["voice_to_voice_ms"] == "1200.0" and first["caller_number"] == "+49 171 2345678"
    data = json.loads(store.export_calls("json", CallFilters(language="en")))
    assert [c["id"] for c in data["calls"]] == ["call-en-transfer"]
    assert data["calls"][0]["turns"][0]["action"] == "transfer"


def test_export_does_not_let_spreadsheets_run_callers_words_as_formulas(store: TranscriptStore) -> None:
    store.start_call(CallRecord("f", "widget", NOW))
    store.add_turn("f", turn(0, NOW, '=HYPERLINK("http://evil.example","click")', "-2+3+cmd|' /C calc'!A0"))
    row = next(csv.DictReader(io.StringIO(store.export_calls("csv"))))
    assert row["transcript"].startswith("'=") and row["answer"].startswith("'-2+3")


def test_retention_deletes_old_calls_with_their_turns_callbacks_flags_and_statuses(store: TranscriptStore) -> None:
    seed_calls(store)
    old_turn = store.get_call("call-old").turns[0]
    store.flag_turn(old_turn.id, "anna", "veraltet")
    store.flag_turn(store.get_call("call-de-answered").turns[0].id, "anna", "stays")
    deleted = store.delete_older_than(NOW - timedelta(days=90))
    assert deleted == 1
    assert store.get_call("call-old") is None and store.count_calls() == 5
    with store.engine.connect() as db:
        assert db.scalar(select(func.count()).select_from(Turn).where(Turn.call_id == "call-old")) == 0
        assert db.scalar(select(func.count()).select_from(Callback).where(Callback.call_id == "call-old")) == 0
        assert db.scalar(select(func.count()).select_from(CallStatus)) == 0
        assert db.scalar(select(func.count()).select_from(Flag)) == 1
        assert db.scalar(select(func.count()).select_from(Call)) == 5
    assert store.delete_older_than(NOW - timedelta(days=90)) == 0


def test_staff_passwords_are_hashed_with_argon2_and_checked(store: TranscriptStore) -> None:
    store.add_user("anna", "correct horse battery")
    assert store.verify_user("anna", "correct horse battery")
    assert not store.verify_user("anna", "wrong password!")
    assert not store.verify_user("nobody", "correct horse battery")
    with store.engine.connect() as db:
        stored = db.exec_driver_sql("SELECT password_hash FROM staff_users").scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert store.list_users() == ["anna"]


def test_a_user_is_added_once_unless_the_password_is_reset(store: TranscriptStore) -> None:
    store.add_user("anna", "correct horse battery")
    try:
        store.add_user("anna", "another password")
    except ValueError as exc:
        assert "exists" in str(exc)
    else:
        raise AssertionError("a second add_user with the same name must fail")
    store.add_user("anna", "another password", replace_password=True)
    assert store.verify_user("anna", "another password")
    assert not store.verify_user("anna", "correct horse battery")
