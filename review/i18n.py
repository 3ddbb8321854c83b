"""UI texts of the review pages in English and German (`?lang=en|de`, remembered in the session)."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("en", "de")
DEFAULT = "en"

# key: (English, German)
TEXTS: dict[str, tuple[str, str]] = {
    "app_title": ("Hotline review", "Hotline-Auswertung"),
    "nav_calls": ("Calls", "Anrufe"),
    "nav_flags": ("Flagged answers", "Markierte Antworten"),
    "nav_callbacks": ("Callbacks", "Rückrufe"),
    "nav_gaps": ("Knowledge gaps", "Wissenslücken"),
    "nav_dashboard": ("Dashboard", "Übersicht"),
    "logout": ("Log out", "Abmelden"),
    "signed_in_as": ("Signed in as", "Angemeldet als"),
    "login": ("Log in", "Anmelden"),
    "username": ("User name", "Benutzername"),
    "password": ("Password", "Passwort"),
    "login_failed": ("Wrong user name or password.", "Benutzername oder Passwort ist falsch."),
    "locked": ("Too many failed attempts. Try again in {minutes} min.",
               "Zu viele Fehlversuche. Bitte in {minutes} Min. erneut versuchen."),
    "login_busy": ("Many logins are being checked right now. Please try again in a minute.",
                   "Gerade werden viele Anmeldungen geprüft. Bitte in einer Minute erneut versuchen."),
    "csrf_failed": ("The form has expired. Please try again.", "Das Formular ist abgelaufen. Bitte erneut senden."),
    "date_from": ("From", "Von"),
    "date_to": ("To", "Bis"),
    "language": ("Language", "Sprache"),
    "channel": ("Channel", "Kanal"),
    "action": ("Outcome", "Ergebnis"),
    "any": ("any", "alle"),
    "search": ("Search transcripts and answers", "In Fragen und Antworten suchen"),
    "apply": ("Filter", "Filtern"),
    "reset": ("Reset", "Zurücksetzen"),
    "started": ("Started", "Beginn"),
    "ended": ("Ended", "Ende"),
    "turns": ("Turns", "Beiträge"),
    "first_question": ("First question", "Erste Frage"),
    "no_calls": ("No calls match.", "Keine passenden Anrufe."),
    "calls_found": ("{n} calls", "{n} Anrufe"),
    "export": ("Export", "Export"),
    "previous": ("Previous", "Zurück"),
    "next": ("Next", "Weiter"),
    "f_answered": ("answered", "beantwortet"),
    "f_transferred": ("transferred", "weitergeleitet"),
    "f_unanswered": ("unanswered", "unbeantwortet"),
    "f_closed": ("closed", "geschlossen"),
    "a_answer": ("answer", "Antwort"),
    "a_clarify": ("clarify", "Rückfrage"),
    "a_transfer": ("transfer", "Weiterleitung"),
    "a_closed": ("closed", "geschlossen"),
    "a_goodbye": ("goodbye", "Verabschiedung"),
    "c_phone": ("phone", "Telefon"),
    "c_widget": ("widget", "Widget"),
    "c_cli": ("command line", "Kommandozeile"),
    "c_api": ("API", "API"),
    "c_unknown": ("unknown", "unbekannt"),
    "call": ("Call", "Anruf"),
    "caller_number": ("Caller's number (consented)", "Rufnummer (mit Einwilligung)"),
    "outcome": ("Outcome", "Ergebnis"),
    "question": ("Question", "Frage"),
    "answer": ("Answer", "Antwort"),
    "topic": ("Topic", "Thema"),
    "sources": ("Sources", "Quellen"),
    "confidence": ("Confidence", "Konfidenz"),
    "detected": ("detected", "erkannt"),
    "latencies": ("Latencies", "Latenzen"),
    "barge_in": ("The caller interrupted this answer", "Anrufer hat diese Antwort unterbrochen"),
    "error": ("Error", "Fehler"),
    "ending": ("Speaking", "Ansage"),
    "e_played": ("played to the end", "ganz gehört"),
    "e_barged_in": ("caller spoke over it", "Anrufer hat hineingesprochen"),
    "e_hung_up": ("caller hung up or closed the widget", "Anrufer hat aufgelegt oder das Widget geschlossen"),
    "e_failed": ("the voice failed; an apology was spoken", "Stimme ausgefallen; Entschuldigung gesprochen"),
    "e_none": ("unknown (not finished when last written)", "unbekannt (beim letzten Speichern nicht beendet)"),
    "not_answered": ("not answered", "nicht beantwortet"),
    "flag": ("Flag this answer as wrong", "Diese Antwort als falsch markieren"),
    "note": ("Note (what is wrong, what would be right)", "Notiz (was ist falsch, was wäre richtig)"),
    "flagged_by": ("Flagged as wrong by {user}", "Als falsch markiert von {user}"),
    "flag_saved": ("The flag was saved.", "Die Markierung wurde gespeichert."),
    "statuses": ("Telephony status", "Telefonie-Status"),
    "back": ("Back to the calls", "Zurück zu den Anrufen"),
    "not_found": ("No such call (it may have been deleted by retention).",
                  "Anruf nicht gefunden (evtl. nach Ablauf der Aufbewahrungsfrist gelöscht)."),
    "no_flags": ("No answers flagged yet.", "Noch keine Antworten markiert."),
    "when": ("When", "Wann"),
    "by": ("By", "Von"),
    "open_call": ("open call", "Anruf öffnen"),
    "open": ("Open", "Offen"),
    "done": ("Done", "Erledigt"),
    "mark_done": ("Mark done", "Erledigt"),
    "number": ("Number", "Nummer"),
    "name": ("Name", "Name"),
    "email": ("E-mail", "E-Mail"),
    "requested": ("Requested", "Angefragt"),
    "done_by": ("Done by", "Erledigt von"),
    "no_callbacks": ("No callback requests.", "Keine Rückrufwünsche."),
    "show_done": ("Show done", "Erledigte anzeigen"),
    "show_open": ("Show open", "Offene anzeigen"),
    "callback_done": ("Marked as done.", "Als erledigt markiert."),
    "gaps_intro": (
        ("Questions the hotline could not answer or answered with low confidence, grouped by similar "
        "wording (shared character trigrams), most frequent first."),
        ("Fragen, die die Hotline nicht oder nur unsicher beantworten konnte, nach ähnlichem Wortlaut "
        "gruppiert (gemeinsame Buchstaben-Trigramme), häufigste zuerst."),
    ),
    "no_gaps": ("No knowledge gaps found.", "Keine Wissenslücken gefunden."),
    "questions_n": ("{n} questions", "{n} Fragen"),
    "calls_per_day": ("Calls per day by language", "Anrufe pro Tag nach Sprache"),
    "action_mix": ("Action mix (turns)", "Verteilung der Aktionen (Beiträge)"),
    "latency_chart": ("Voice-to-voice latency in ms (p50, p95)", "Latenz Sprache-zu-Sprache in ms (p50, p95)"),
    "period": ("Period", "Zeitraum"),
    "days_n": ("{n} days", "{n} Tage"),
    "total_calls": ("{n} calls in this period", "{n} Anrufe in diesem Zeitraum"),
    "no_latency": ("No latency was measured in this period.", "In diesem Zeitraum wurde keine Latenz gemessen."),
    "no_data": ("No calls in this period.", "Keine Anrufe in diesem Zeitraum."),
    "dated_topics": ("Topics to re-check: dated facts expire", "Themen zu prüfen: datierte Fakten laufen ab"),
    "dated_expired": ("facts expired on {date}; the hotline still says them", "Fakten abgelaufen am {date}; die Hotline sagt sie noch"),
    "dated_expiring": ("facts valid until {date}", "Fakten gültig bis {date}"),
}


def translator(lang: str) -> Callable[..., str]:
    """t(key, **values) in `lang`.

    A key without a text shows as itself, so a gap is visible, not fatal; a prefixed value key such as
    "a_escalate" (an action added after these texts were written) shows as its value, "escalate".
    """
    column = LANGUAGES.index(lang) if lang in LANGUAGES else 0

    def t(key: str, **values: object) -> str:
        if key not in TEXTS:
            return key.split("_", 1)[1] if key[:2] in ("a_", "c_", "f_") else key
        text = TEXTS[key][column]
        return text.format(**values) if values else text

    return t
