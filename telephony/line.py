"""The phone line: what every call on it shares, built once when the router is created."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlencode

from pipeline.records import TranscriptSink
from pipeline.services import VoiceServices
from telephony import twiml
from telephony.capacity import CallSlots, SeenCalls
from telephony.config import TelephonySettings
from telephony.greeting import PhoneGreeting
from telephony.handover import Handover
from telephony.rest import CallControl
from telephony.signatures import WebhookVerifier
from telephony.sms import TextMessages
from telephony.tokens import StreamTokens

PHONE_RATE = 8000
Clock = Callable[[], datetime]

# Spoken by Twilio's own voice when no stream can be offered (all lines busy): German, then English.
BUSY = {
    "de": ("Willkommen bei der Hotline des {operator}. Alle Leitungen sind gerade belegt.",
           "Ich verbinde Sie mit unserem Team.", "Bitte rufen Sie in ein paar Minuten wieder an. Auf Wiederhören."),
    "en": ("Welcome to the hotline of the {operator}. All our lines are busy right now.",
           "I am putting you through to our staff.", "Please call again in a few minutes. Goodbye."),
}


@dataclass(frozen=True)
class CallPolicy:
    """How long a call may last and how long the bot waits on a silent caller (config: `telephony`)."""

    max_call_s: float = 15 * 60
    silence_prompt_s: float = 12.0
    menu_after_silence_s: float = 4.0  # a caller silent this long after the welcome hears the language menu
    mark_grace_s: float = 5.0  # wait this long past the expected end of our audio for Twilio's mark

    @classmethod
    def from_settings(cls, settings: TelephonySettings) -> CallPolicy:
        section = settings.telephony
        return cls(max_call_s=section.max_call_minutes * 60, silence_prompt_s=section.silence_prompt_s,
                   menu_after_silence_s=section.menu_after_silence_s)


@dataclass
class PhoneLine:
    settings: TelephonySettings
    services: VoiceServices
    sink: TranscriptSink | None
    clock: Clock
    control: CallControl
    tokens: StreamTokens
    slots: CallSlots
    seen: SeenCalls
    verifier: WebhookVerifier
    greeting: PhoneGreeting
    policy: CallPolicy
    # What a caller put through to staff had come with, for the callback offered if staff do not answer
    # (that happens on a new media stream, with a new agent, maybe on another instance).
    handover: Handover
    texts: TextMessages  # links by SMS, with the caller's consent (`twilio.sms_from`)
    prefix: str = "/twilio"

    def url(self, path: str, **query: str) -> str:
        base = f"{self.settings.server.public_url.rstrip('/')}{self.prefix}{path}"
        return f"{base}?{urlencode(query)}" if query else base

    @property
    def stream_url(self) -> str:
        # Twilio only connects to wss:// in production; http:// public URLs (local runs) give ws://.
        instance = self.settings.server.instance
        return "ws" + self.url(f"/media/{instance}" if instance else "/media").removeprefix("http")

    def is_open(self) -> bool:
        return self.services.dialogue.hours.is_open(self.clock())

    def staff_line(self, language: str, call_sid: str | None = None) -> twiml.StaffLine:
        """With the call's SID, staff hear the whisper (language, question) before they are put through.
        Twilio requests that URL with the staff leg's own CallSid, so the caller's travels in the query."""
        transfer = self.settings.transfer
        whisper = self.url("/whisper", call=call_sid, lang=language) if call_sid else None
        return twiml.StaffLine(transfer.staff_number, transfer.caller_id, transfer.ring_timeout_s,
                               self.url("/dial-result", lang=language), whisper)

    def busy_twiml(self) -> str:
        """All lines taken: say so in German and English, and put the caller through while staff are in."""
        staff = self.staff_line(self.settings.default_language) if self.is_open() else None
        operator = self.settings.operator.name
        messages = [twiml.Spoken(f"{BUSY[lang][0].format(operator=operator)} {BUSY[lang][1 if staff else 2]}", lang)
                    for lang in ("de", "en") if lang in self.settings.languages]
        return twiml.say_and_end(messages, staff)

    def apology_twiml(self, language: str, transfer: bool) -> str:
        """An internal fault: Twilio's voice apologises (ours may be what failed), then staff, then goodbye.

        The <Dial> here has no action URL: the bot that failed is not offered again when staff do not answer.
        """
        phrases = self.services.dialogue.phrases
        apology = [twiml.Spoken(phrases.say(language, "apology_fault"), language)]
        goodbye = [twiml.Spoken(phrases.say(language, "goodbye"), language)]
        staff = replace(self.staff_line(language), action_url=None) if transfer else None
        return twiml.say_and_end(apology, staff, after=goodbye)
