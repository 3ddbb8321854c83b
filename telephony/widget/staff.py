"""How a visitor reaches a person: the number to call while staff are in, else when they are next in."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pipeline.dialogue import Dialogue


def tel_uri(number: str) -> str:
    """'tel:' plus the digits (and a leading +) of a number written for people, e.g. '06441 0000 000'."""
    digits = re.sub(r"[^\d+]", "", number)
    return "tel:" + (digits[0] + digits[1:].replace("+", "") if digits else "")


def staff_info(dialogue: Dialogue, language: str, at: datetime) -> dict[str, Any]:
    """The panel's "Talk to staff" section: open or not, the phone number, and the next opening when closed."""
    operator = dialogue.settings.operator
    info: dict[str, Any] = {"open": dialogue.hours.is_open(at), "phone": operator.phone,
                            "tel": tel_uri(operator.phone), "text": "", "next_opening": None}
    if not info["open"]:
        info["text"] = dialogue.closed_text(language, at)
        opening = dialogue.hours.next_opening(at)
        info["next_opening"] = opening.isoformat() if opening else None
    return info
