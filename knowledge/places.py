"""Named places in Mittelhessen and the district (so the foreigners' office) each belongs to.

"I live in Haiger" must find the Lahn-Dill office, and a town's name must not decide the topic of a question
about something else ("I moved to Herborn, how do I register my flat?"). The gazetteer (knowledge/places.yaml)
lists the municipalities of the five districts; callers inflect names ("w Herbornie", "в Вецларі",
"Wetzlar'da"), write them without umlauts or in Cyrillic, so names are compared on a folded spelling and a
known ending may follow them.

>>> gazetteer = Gazetteer.from_file(Path("knowledge/places.yaml"))
>>> [p.topic for p in gazetteer.find("Ich wohne in Haiger")]
['abh-lahn-dill']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

# Case endings a name may carry (Polish, Czech-like Slavic, Russian, Ukrainian, German adjectives, Romanian).
ENDINGS = ("", "e", "ie", "u", "i", "a", "y", "om", "em", "ем", "ом", "е", "і", "у", "а", "и", "er", "s", "ul", "ului")
MIN_INFLECTED = 5  # only names this long take an ending: "Lich" + "e" is not a place
_CYRILLIC = dict(zip("абвгґдеєжзиіїйклмнопрстуфхцчшщьыэюяёъ", [
    "a", "b", "v", "g", "g", "d", "e", "e", "zh", "z", "i", "i", "i", "i", "k", "l", "m", "n", "o", "p", "r", "s",
    "t", "u", "f", "h", "ts", "ch", "sh", "sch", "", "y", "e", "yu", "ya", "e", ""], strict=True))
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class PlaceMention:
    name: str  # the official name
    district: str
    topic: str  # the foreigners' office topic for the district
    start: int
    end: int


def fold(word: str) -> str:
    """A spelling key: lowercase, ß as ss, umlauts as their base letter, Cyrillic transliterated, loose pairs
    (ae/ä, tz/z, w/v ...) made equal. "Gießen", "Giessen" and "Гиссен" all fold to the same key."""
    text = word.casefold().replace("ß", "ss")
    text = "".join(_CYRILLIC.get(c, c) for c in text)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn")
    for loose, tight in (("ae", "a"), ("oe", "o"), ("ue", "u"), ("tz", "z"), ("ts", "z"), ("w", "v"), ("ei", "ai"),
                         ("y", "i"), ("kh", "h"), ("sch", "sh")):
        text = text.replace(loose, tight)
    return re.sub(r"(.)\1", r"\1", text)


class Gazetteer:
    def __init__(self, names: dict[tuple[str, ...], tuple[str, str, str, bool]], cues: frozenset[str],
                 office_topics: frozenset[str]) -> None:
        self._names = names  # folded words of a name -> (official name, district, topic, needs a cue)
        self._longest = max((len(key) for key in names), default=1)
        self._cues = cues
        self.office_topics = office_topics  # topics answering "which foreigners' office?"

    @classmethod
    def from_file(cls, path: Path) -> Gazetteer:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        names: dict[tuple[str, ...], tuple[str, str, str, bool]] = {}
        for district, entry in data["districts"].items():
            topic = entry["topic"]
            for name in entry.get("names", []):
                names[_key(name)] = (entry["name"], district, topic, False)
            for town in entry["municipalities"]:
                for spelling in [town["name"], *town.get("aliases", [])]:
                    # "Wetter (Hessen)": the bracket is how the name is written officially, not how it is said.
                    bare = re.sub(r"\s*\(.*\)", "", str(spelling))
                    needs_cue = bool(town.get("needs_cue")) and len(_key(bare)) == 1
                    names.setdefault(_key(bare), (town["name"], district, topic, needs_cue))
        cues = frozenset(fold(c) for words in data.get("cues", {}).values() for c in words)
        offices = frozenset([entry["topic"] for entry in data["districts"].values()] + [data.get("general_topic",
                            "abh-responsible")])
        return cls(names, cues, offices)

    def find(self, text: str) -> tuple[PlaceMention, ...]:
        words = [(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]
        found = []
        i = 0
        while i < len(words):
            hit = self._match(words, i)
            if hit is None:
                i += 1
                continue
            length, (name, district, topic, needs_cue) = hit
            cued = i > 0 and words[i - 1][2] in self._cues
            if not needs_cue or cued:
                found.append(PlaceMention(name, district, topic, words[i][0], words[i + length - 1][1]))
            i += length
        return tuple(found)

    def _match(self, words: list[tuple[int, int, str]], i: int) -> tuple[int, tuple[str, str, str, bool]] | None:
        for length in range(min(self._longest, len(words) - i), 0, -1):
            key = tuple(w for _, _, w in words[i : i + length])
            if key in self._names:
                return length, self._names[key]
            last = key[-1]
            for ending in ENDINGS[1:]:
                stem = fold(ending)
                if stem and last.endswith(stem) and len(last) - len(stem) >= MIN_INFLECTED:
                    candidate = (*key[:-1], last[: -len(stem)])
                    if candidate in self._names:
                        return length, self._names[candidate]
        return None


def mask(text: str, mentions: tuple[PlaceMention, ...]) -> str:
    """The text without the place names: what is left says what the caller wants to know."""
    for mention in sorted(mentions, key=lambda m: m.start, reverse=True):
        text = text[: mention.start] + text[mention.end :]
    return " ".join(text.split())


def _key(name: str) -> tuple[str, ...]:
    return tuple(fold(w) for w in _WORD.findall(name))
