"""Links by text message, with the caller's consent: who may get one, what it says, and sending it.

A caller cannot click a link they hear, so after an answer with sources (or a confirmed callback) the bot
offers to send them by SMS. Only a "yes" sends; one message per call; never to a number that cannot receive
one. The message goes out through the real `twilio` client (the Messages API of the same `client.api` domain
as the call updates, so `twilio.api_base_url` points it at the local fake in tests).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from knowledge.topics import Topic
from pipeline.config import Operator
from pipeline.dialogue import Reply
from pipeline.phrases import Phrases

log = logging.getLogger("hotline.twilio")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# German mobile numbers: +49 15x, 16x, 17x. Every other German number is a landline (or a service number)
# that would swallow the message or read it out as a robot call.
GERMAN_MOBILE = ("+4915", "+4916", "+4917")
MAX_LINKS = 4  # each link is ~60 characters: four keep the message within a few segments
MAX_BODY_CHARS = 1600  # Twilio's limit for one (concatenated) message


class SmsError(RuntimeError):
    pass


def can_receive_sms(number: str | None) -> bool:
    """Whether a text message to this caller's number can arrive: an E.164 number, and in Germany a mobile one.
    A withheld number ("anonymous", empty) cannot."""
    if not number or not E164.match(number):
        return False
    if number.startswith("+49"):
        return number.startswith(GERMAN_MOBILE)
    return True


@dataclass(frozen=True)
class LinkMessage:
    """What a caller who said yes receives, in their language."""

    language: str
    title: str  # the topic as the caller's language names it, or what the callback is
    links: tuple[str, ...]

    def body(self, phrases: Phrases, operator: Operator) -> str:
        # Contact details the config still marks as examples are no facts to hand a caller in writing.
        examples = {"phone", "email", "website"} & set(operator.example_values)
        contact = "" if examples else phrases.say(self.language, "sms_contact", phone=operator.phone,
                                                  email=operator.email, website=operator.website)
        lines = [f"{operator.name}: {self.title}", *self.links[:MAX_LINKS], contact]
        return "\n".join(line for line in lines if line)[:MAX_BODY_CHARS]


def link_message(reply: Reply, topics: Mapping[str, Topic] | None, phrases: Phrases) -> LinkMessage:
    """The message for the reply whose links were offered: the topic as the caller's language names it (the
    choice question's label, else the topic's title) and its sources; for a callback, that it is noted."""
    language = reply.language
    if reply.intent == "callback":
        return LinkMessage(language, phrases.say(language, "sms_callback"), ())
    topic = (topics or {}).get(reply.topic or "")
    localized = topic.answers.get(language) if topic else None
    title = (localized.label if localized and localized.label else topic.title if topic else "").strip()
    return LinkMessage(language, title[:1].upper() + title[1:], tuple(source.url for source in reply.sources))


# Replies after which the offer is made: an answer from the knowledge base (or more of it), a callback noted.
OFFER_AFTER = (None, "details", "callback")


@dataclass
class SmsOffer:
    """One call's offer: made after replies worth it, until one message is sent or the caller says no."""

    number: str | None  # the caller's, from the call's slot
    allowed: bool  # a sender is configured and the number can receive a text message
    offered: Reply | None = None  # the reply whose links the caller was last asked about
    sent: bool = False
    declined: bool = False

    def worth_offering(self, reply: Reply) -> bool:
        if not self.allowed or self.sent or self.declined or reply.intent not in OFFER_AFTER:
            return False
        return reply.intent == "callback" or (reply.action == "answer" and bool(reply.sources))


class TextMessages:
    """Sends through the `twilio` client the phone line already holds (`CallControl.client`)."""

    def __init__(self, client: Client, sender: str | None) -> None:
        self.client = client
        self.sender = sender  # `twilio.sms_from`; None: no text messages at all

    def may_send_to(self, number: str | None) -> bool:
        return self.sender is not None and can_receive_sms(number)

    async def send(self, call_sid: str, to: str, body: str) -> str:
        """Send one message; its SID. Neither the number nor the body is logged."""
        if not self.may_send_to(to):
            raise SmsError(f"call {call_sid}: no text message to this number (or no sender configured)")
        try:
            message = await asyncio.to_thread(
                lambda: self.client.messages.create(to=to, from_=self.sender, body=body))
        except TwilioException as exc:  # its message can quote the number: only the status and code
            status, code = getattr(exc, "status", "?"), getattr(exc, "code", "?")
            raise SmsError(f"call {call_sid}: Twilio refused the text message ({status}, code {code})") from exc
        except OSError as exc:  # requests' connection errors derive from it
            raise SmsError(f"call {call_sid}: Twilio API unreachable ({type(exc).__name__})") from exc
        log.info("call %s: text message %s sent", call_sid, message.sid)
        return str(message.sid)
