"""TwiML, built with the `twilio` library so the XML is always what Twilio expects."""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

# Twilio's <Say> language codes for the served languages (Twilio picks its default voice for each).
SAY_LANGUAGES = {
    "de": "de-DE", "en": "en-GB", "ar": "arb", "tr": "tr-TR", "uk": "uk-UA",
    "ru": "ru-RU", "es": "es-ES", "fr": "fr-FR", "pl": "pl-PL", "ro": "ro-RO",
}
TOKEN_PARAMETER = "token"


@dataclass(frozen=True)
class Spoken:
    """A sentence for Twilio's own text to speech: used when our pipeline is not (or no longer) on the line."""

    text: str
    language: str


@dataclass(frozen=True)
class StaffLine:
    number: str
    caller_id: str | None  # None: staff see the caller's number
    timeout_s: int
    action_url: str | None  # Twilio posts the outcome here when the <Dial> ends; None: go on to the next verb
    # Twilio asks this URL for TwiML to play to staff once they pick up, then bridges (`telephony.whisper`).
    whisper_url: str | None = None


def stream(stream_url: str, token: str) -> str:
    """Connect the call's audio to our media socket; the token comes back in the socket's `start` message."""
    response = VoiceResponse()
    connect = Connect()
    connect.stream(url=stream_url).parameter(name=TOKEN_PARAMETER, value=token)
    response.append(connect)
    return str(response)


def dial(line: StaffLine, before: list[Spoken] | None = None) -> str:
    """Put the caller through to staff; Twilio reports the outcome to `line.action_url`."""
    response = VoiceResponse()
    _say(response, before or [])
    response.append(_dial(line))
    return str(response)


def say_and_end(messages: list[Spoken], staff: StaffLine | None = None, after: list[Spoken] | None = None) -> str:
    """Speak with Twilio's voice, put through to staff if given, say `after` (once the <Dial> is over), hang up.

    With a staff line that has an action URL, Twilio asks that URL what next, and the rest is never reached.
    """
    response = VoiceResponse()
    _say(response, messages)
    if staff:
        response.append(_dial(staff))
    _say(response, after or [])
    response.hangup()
    return str(response)


def whisper(text: str) -> str:
    """For staff before the caller is bridged: German, in Twilio's voice (our pipeline is not on that leg)."""
    response = VoiceResponse()
    response.say(text, language=SAY_LANGUAGES["de"])
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def _dial(line: StaffLine) -> Dial:
    outcome = {"action": line.action_url, "method": "POST"} if line.action_url else {}
    dial_verb = Dial(caller_id=line.caller_id, timeout=line.timeout_s, **outcome)
    whisper = {"url": line.whisper_url, "method": "POST"} if line.whisper_url else {}
    dial_verb.number(line.number, **whisper)
    return dial_verb


def _say(response: VoiceResponse, messages: list[Spoken]) -> None:
    for message in messages:
        response.say(message.text, language=SAY_LANGUAGES.get(message.language, "en-GB"))
