"""What staff hear before a transferred caller is put through: the caller's language and question, in German.

Twilio plays the TwiML at the `<Number url=...>` of a `<Dial>` to the person who picks up, and bridges the
call when it ends, so the caller does not have to start again. The staff are German speakers; the question
is read as the caller asked it (it may be in their language), shortened so the caller does not wait long.
"""

from __future__ import annotations

from dataclasses import dataclass

# The served languages as a German speaker names them.
LANGUAGE_NAMES_DE = {
    "de": "Deutsch", "en": "Englisch", "ar": "Arabisch", "tr": "Türkisch", "uk": "Ukrainisch",
    "ru": "Russisch", "es": "Spanisch", "fr": "Französisch", "pl": "Polnisch", "ro": "Rumänisch",
}
MAX_WORDS = 25
NO_QUESTION = "Der Anrufer hat noch keine Frage gestellt."


@dataclass(frozen=True)
class Whisper:
    language: str  # the caller's
    question: str | None  # as the caller asked it; None or empty: none yet

    def text(self) -> str:
        language = LANGUAGE_NAMES_DE.get(self.language, self.language)
        question = shortened(self.question or "")
        asked = f"Frage: {question}" if question else NO_QUESTION
        return f"Anruf von der Hotline. Sprache: {language}. {asked}"


def shortened(question: str, max_words: int = MAX_WORDS) -> str:
    """The question in at most `max_words` words, ending in a full stop (or its own ? or !)."""
    words = question.split()
    if not words:
        return ""
    text = " ".join(words[:max_words])
    if len(words) > max_words:
        return text.rstrip(",;:") + " ..."
    return text if text[-1] in ".?!" else text + "."
