"""The panel's own words in every served language (`texts.yaml` beside this module), checked at start-up."""

from __future__ import annotations

from pathlib import Path

import yaml

TEXTS_FILE = Path(__file__).resolve().parent / "texts.yaml"
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})


def load_panel_texts(languages: tuple[str, ...], path: Path = TEXTS_FILE) -> dict[str, dict[str, str]]:
    """Every served language's texts with the same keys as English; raise ValueError naming what is missing."""
    table = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    reference = set(table.get("en") or table.get(languages[0]) or {})
    if not reference:
        raise ValueError(f"{path}: no texts for 'en'")
    texts: dict[str, dict[str, str]] = {}
    for language in languages:
        entry = table.get(language)
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: language {language!r} is missing")  # noqa: TRY004 - a config error
        missing = sorted(reference - set(entry))
        if missing:
            raise ValueError(f"{path}: {language} lacks {', '.join(missing)}")
        texts[language] = {key: str(entry[key]) for key in sorted(reference)}
    return texts
