"""`hotline ask`, `ingest` and `eval` as a user runs them: real processes, real index."""

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.services import FIXED_PHRASES

ROOT = Path(__file__).resolve().parent.parent
HOTLINE = [sys.executable, "-m", "hotline.cli"]


def run(*args, env=None, stdin=None):
    return subprocess.run([*HOTLINE, *args], capture_output=True, text=True, cwd=ROOT, input=stdin,
                          env={**os.environ, **(env or {})}, timeout=300, check=False)


def test_ask_prints_the_documented_json(knowledge):  # `knowledge` makes sure the index is built
    done = run("ask", "Wie viel kostet das Deutschlandticket?", "--json", "--at", "2026-12-01T10:00")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert {"language", "action", "answer", "topic", "sources", "confidence", "timings_ms"} <= reply.keys()
    assert (reply["language"], reply["action"], reply["topic"]) == ("de", "answer", "deutschlandticket")
    assert "63" in reply["answer"]
    assert reply["sources"][0]["url"].startswith("http")


def test_ask_from_stdin_prints_one_json_line_per_question_in_order(knowledge):
    questions = "How much is the Deutschlandticket?\nPlease repeat that\nI want to speak to a person\n"
    done = run("ask", "-", "--at", "2026-11-29T11:00", stdin=questions)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["intent"] for line in lines] == [None, "repeat", "human"]
    assert lines[1]["answer"] == lines[0]["answer"]
    assert lines[2]["action"] == "closed"


def test_ask_refuses_an_unserved_language_and_a_bad_time():
    assert "not served" in run("ask", "hi", "--lang", "it").stderr
    assert "ISO time" in run("ask", "hi", "--at", "next tuesday").stderr


def test_a_broken_config_stops_with_the_key(tmp_path):
    done = run("ask", "hi", env={"HOTLINE__SERVER__PORT": "not-a-port"})
    assert done.returncode == 2 and "server.port" in done.stderr


def test_serve_on_a_public_address_with_the_placeholder_auth_token_refuses_and_names_the_setting():
    public = {"HOTLINE_PUBLIC_URL": "https://hotline.example.org", "TWILIO_AUTH_TOKEN": "change-me"}
    done = run("serve", "--no-render", env=public)
    assert done.returncode == 2
    assert "TWILIO_AUTH_TOKEN" in done.stderr and "https://hotline.example.org" in done.stderr
    assert "serving on" not in done.stdout


@pytest.fixture()
def small_kb(tmp_path):
    topics = tmp_path / "topics"
    topics.mkdir()
    for name in ("blue-card", "tax-id"):
        shutil.copy(ROOT / "knowledge" / "topics" / f"{name}.yaml", topics)
    env = {"HOTLINE__KNOWLEDGE__TOPICS_DIR": str(topics), "HOTLINE__PATHS__CACHE": str(tmp_path / "cache")}
    built = run("ingest", "--no-audio", env=env)
    assert built.returncode == 0, built.stderr
    return topics, env, tmp_path / "cache" / "index" / "manifest.json"


@pytest.mark.parametrize(
    ("break_it", "field", "problem"),
    [
        (lambda t: t.replace("  ro:\n", "  xx:\n"), "answers.ro", "missing language"),
        (lambda t: t.split("sources:")[0] + "sources: []\n" + "answers:" + t.split("answers:", 1)[1],
         "sources", "at least one source"),
        (lambda t: t.replace("checked: ", "checked: soon #", 1), "checked", "not a date"),
    ],
)
def test_ingest_rejects_a_broken_topic_naming_file_and_field_and_keeps_the_index(small_kb, break_it, field, problem):
    topics, env, manifest = small_kb
    before = manifest.read_text()
    path = topics / "tax-id.yaml"
    path.write_text(break_it(path.read_text()))
    done = run("ingest", "--no-audio", env=env)
    assert done.returncode == 1
    assert "tax-id.yaml" in done.stderr and field in done.stderr and problem in done.stderr
    assert "previous index is kept" in done.stderr
    assert manifest.read_text() == before


def test_ingest_does_nothing_when_the_content_is_unchanged(small_kb):
    _, env, _ = small_kb
    assert "up to date" in run("ingest", "--no-audio", env=env).stdout


def test_ingest_warns_about_a_topic_whose_dated_facts_expire_within_thirty_days(small_kb):
    topics, env, _ = small_kb
    soon = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()
    later = (datetime.now(UTC).date() + timedelta(days=400)).isoformat()
    for name, until in (("tax-id", soon), ("blue-card", later)):
        path = topics / f"{name}.yaml"
        text = "".join(line for line in path.read_text().splitlines(keepends=True)
                       if not line.startswith("valid_until:"))
        path.write_text(text.replace("checked:", f"valid_until: {until}\nchecked:", 1))
    done = run("ingest", "--no-audio", env=env)
    assert done.returncode == 0, done.stderr
    assert f"tax-id: facts expire on {soon}" in done.stderr
    assert "blue-card" not in done.stderr
    assert f"tax-id: facts expire on {soon}" in run("ingest", "--no-audio", env=env).stderr  # also when up to date


def test_eval_prints_recall_and_mrr_per_language(knowledge):
    done = run("eval", "--part", "retrieval")
    assert done.returncode == 0, done.stderr
    title, header, *rows = done.stdout.strip().splitlines()
    assert "retrieval" in title
    assert header.split() == ["lang", "n", "recall@1", "recall@3", "MRR"]
    languages = {row.split()[0] for row in rows}
    assert {"de", "en", "ar", "tr", "uk", "ru", "es", "fr", "pl", "ro", "all"} <= languages


def test_eval_reports_the_intents_and_the_conversations_from_the_cli_as_json(knowledge):
    done = run("eval", "--part", "intents", "--part", "conversations", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    intents = {row["language"]: row for row in report["intents"]}
    assert {"de", "en", "ar", "tr", "uk", "ru", "es", "fr", "pl", "ro"} <= intents.keys()
    assert all(0 < row["correct"] <= row["total"] for row in intents.values())
    assert "errors" not in intents["de"]  # the evaluation's utterances stay out of the figures
    languages, conversations = report["conversations"]
    assert languages["first"]["de"]["total"] > 0 and "misses" not in languages
    assert 0 < conversations["conversations"]["right"] <= conversations["conversations"]["total"]


def test_eval_speaks_the_questions_and_reports_each_voice_and_path(knowledge):
    done = run("eval", "--part", "spoken", "--lang", "de", "--voice", "espeak", "--per-language", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert ("spoken: 2 utterances (1 question, voices espeak, paths widget, phone, prompts for de, language by ear)"
            in done.stderr)
    rows = json.loads(done.stdout)["spoken"]
    assert {(row["language"], row["voice"], row["path"]) for row in rows} == {
        ("de", "espeak", "widget"), ("de", "espeak", "phone"), ("de", "text", "text")}
    assert all(row["questions"] == 1 and "misses" not in row for row in rows)


def test_eval_names_the_voices_it_has_when_asked_for_another(knowledge):
    done = run("eval", "--part", "spoken", "--voice", "thorsten")
    assert done.returncode != 0
    assert "no such voice in the plan: thorsten; it has kokoro-alpha, kokoro-kumo, espeak" in done.stderr


ESPEAK_EVERYWHERE = "{" + ", ".join(f"{lang}: {{backend: espeak, voice: {voice}}}" for lang, voice in {
    "de": "de", "en": "en-us", "ar": "ar", "tr": "tr", "uk": "uk", "ru": "ru", "es": "es", "fr": "fr-fr",
    "pl": "pl", "ro": "ro"}.items()) + "}"


def test_ingest_renders_every_answer_in_every_language_at_phone_and_browser_rates_once(small_kb):
    _, env, manifest = small_kb
    env = {**env, "HOTLINE__VOICE__VOICES": ESPEAK_EVERYWHERE}
    done = run("ingest", env=env)
    assert done.returncode == 0, done.stderr
    # 2 topics and every fixed sentence (transfer, goodbye, the SMS offer...), each in 10 languages
    per_language = 2 + len(FIXED_PHRASES)
    total = 10 * per_language
    assert f"answer audio: 0 cached, {total} rendered" in done.stdout
    wavs = sorted((manifest.parent.parent / "answer-audio").rglob("*.wav"))
    assert len([w for w in wavs if w.name.endswith(".8000.wav")]) == total
    assert len([w for w in wavs if w.name.endswith(".16000.wav")]) == total

    again = run("ingest", env=env)
    assert f"answer audio: {total} cached, 0 rendered" in again.stdout

    # Another voice for one language: only that language's audio is rendered anew (the cache key is text + voice).
    other = env["HOTLINE__VOICE__VOICES"].replace("de: {backend: espeak, voice: de}", "de: {backend: espeak, voice: de+f3}")
    changed = run("ingest", env={**env, "HOTLINE__VOICE__VOICES": other})
    assert f"answer audio: {total - per_language} cached, {per_language} rendered" in changed.stdout


def test_ingest_without_the_voice_models_says_which_is_missing_and_how_to_get_it(small_kb):
    _, env, _ = small_kb  # a cache of its own: no models were provisioned there
    done = run("ingest", env=env)
    assert done.returncode == 2
    assert "cannot render answer audio" in done.stderr and "hotline models" in done.stderr


def test_staff_accounts_are_added_changed_and_removed_from_the_command_line(tmp_path):
    from review.store import TranscriptStore

    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    env = {"DATABASE_URL": url}
    added = run("users", "add", "anna", "--password-stdin", env=env, stdin="correct horse battery\n")
    assert added.returncode == 0 and "added" in added.stdout, added.stderr
    store = TranscriptStore(url)
    assert store.verify_user("anna", "correct horse battery")
    changed = run("users", "passwd", "anna", "--password-stdin", env=env, stdin="a brand new passphrase\n")
    assert changed.returncode == 0 and "0 session(s) ended" in changed.stdout, changed.stderr
    assert store.verify_user("anna", "a brand new passphrase") and not store.verify_user("anna", "correct horse battery")
    assert "at least 10" in run("users", "passwd", "anna", "--password-stdin", env=env, stdin="short\n").stderr
    removed = run("users", "remove", "anna", env=env)
    assert removed.returncode == 0 and "removed" in removed.stdout, removed.stderr
    assert store.list_users() == []
    missing = run("users", "remove", "anna", env=env)
    assert missing.returncode == 2 and "no user 'anna'" in missing.stderr
    store.close()
