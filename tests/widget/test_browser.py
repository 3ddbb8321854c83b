"""The widget in a real browser: Debian's Chromium, driven by Playwright, with a fake microphone.

The microphone is a WAV file espeak-ng speaks for the test; Chromium plays it into getUserMedia in a loop.
Never downloads a browser (no `playwright install`): a missing /usr/bin/chromium fails the tests and says so.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile

from review.store import TranscriptStore
from tests.widget.conftest import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
# Whisper base hears espeak-ng's robotic "Deutschlandticket" as anything from "Deutsche Zicket" to "old-school
# ticket"; this wording it transcribes right at every offset we tried, with and without echo cancellation.
QUESTION = "How much is the Deutschland ticket?"


@pytest.fixture(scope="module")
def microphone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The question spoken by espeak-ng, with silence before it (the microphone starting) and after it (the
    end of the turn, and time for the answer before Chromium loops the file), as 16-bit PCM."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is not installed: apt-get install espeak-ng (it speaks the test's question)")
    folder = tmp_path_factory.mktemp("microphone")
    subprocess.run([espeak, "-v", "en", "-w", str(folder / "spoken.wav"), QUESTION], check=True)
    speech, rate = soundfile.read(folder / "spoken.wav", dtype="float32")
    silence = lambda seconds: np.zeros(int(seconds * rate), dtype=np.float32)
    path = folder / "question.wav"
    soundfile.write(path, np.concatenate([silence(2.0), speech, silence(8.0)]), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def browser(microphone: Path) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: install Debian's package "
                    "(apt-get install chromium). These tests drive the system browser and never download one.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={microphone}"])
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, server: str, locale: str):
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(20_000)
    page = context.new_page()
    elsewhere: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(server) else elsewhere.append(request.url))
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # The demo page's Content-Security-Policy is strict (scripts, styles and sockets from its own origin):
    # the widget must work under it, as it will on a careful site.
    page.add_init_script("window.__violations = []; document.addEventListener('securitypolicyviolation',"
                         " (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));")
    page.goto(f"{server}/")
    return context, page, elsewhere, problems


def test_visitor_asks_by_voice_hears_the_answer_and_follows_its_sources(browser, server: str,
                                                                          store: TranscriptStore) -> None:
    from playwright.sync_api import expect

    context, page, elsewhere, problems = open_page(browser, server, "de-DE")
    try:
        widget = page.locator("#wcm-widget")
        page.get_by_role("button", name="Assistenten des Welcome Centers öffnen").click()
        panel = page.get_by_role("dialog", name="Welcome-Center-Assistent")
        expect(panel).to_be_visible()
        expect(page.get_by_role("log")).to_contain_text("Willkommen bei der Hotline")
        expect(panel.get_by_role("link", name="06441 0000 000")).to_have_count(0)  # staff only on request

        hands_free = page.get_by_role("button", name="Freihändig")
        hands_free.click()
        expect(hands_free).to_have_attribute("aria-pressed", "true")

        question = page.locator(".msg.user .question").first
        expect(question).to_have_text(re.compile(r"how much is the deutschland.?ticket", re.IGNORECASE),
                                      timeout=60_000)
        answer = page.locator(".msg.bot[data-action=answer]").first
        expect(answer).to_contain_text("63 euros", timeout=60_000)
        expect(answer).to_have_attribute("lang", "en")
        # The visitor spoke English on a German page: the panel follows the conversation's language.
        expect(page.get_by_role("dialog", name="Welcome Center assistant")).to_be_visible()
        expect(page.get_by_label("Language")).to_have_value("en")
        expect(answer).to_have_attribute("data-played", "true", timeout=30_000)  # its speech started playing
        # Chromium loops the microphone file: the question comes again while the answer still plays, and
        # the visitor's voice stops it (barge-in), then the repeated question is answered.
        expect(answer).to_have_attribute("data-audio", "stopped", timeout=30_000)
        expect(page.locator(".msg.user .question")).to_have_count(2, timeout=30_000)
        source = answer.locator(".sources a").first
        expect(source).to_have_attribute("href", re.compile(r"^https://"))
        expect(source).to_have_attribute("target", "_blank")
        expect(source).to_have_attribute("rel", "noopener noreferrer")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-voice.png"))

        hands_free = page.get_by_role("button", name="Hands-free")  # the panel speaks English now
        hands_free.click()
        expect(hands_free).to_have_attribute("aria-pressed", "false")
        assert widget.get_attribute("data-open") == "true"
        assert elsewhere == [], f"the widget fetched from elsewhere: {elsewhere}"
        assert problems == [], problems
        assert page.evaluate("window.__violations") == []
    finally:
        context.close()

    # The call is on record for staff, as a widget call with the answered turn.
    calls = [c for c in store.list_calls() if c.channel == "widget"]
    turns = [t for c in calls for t in store.get_call(c.id).turns]
    assert any(t.topic == "deutschlandticket" and "63 euros" in t.answer for t in turns), turns


def test_keyboard_only_visitor_types_talks_and_asks_for_a_callback(browser, server: str,
                                                                     store: TranscriptStore) -> None:
    from playwright.sync_api import expect

    context, page, elsewhere, problems = open_page(browser, server, "de-DE")
    keyboard = page.keyboard
    focused = "document.getElementById('wcm-widget').shadowRoot.activeElement"

    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            keyboard.press("Tab")
            if page.evaluate(f"(() => {{ const e = {focused}; return !!e && e.matches({selector!r}); }})()"):
                return
        pytest.fail(f"Tab never reached {selector}")

    try:
        tab_to(".launcher")
        outline = page.evaluate(f"getComputedStyle({focused}).outlineStyle")
        assert outline == "solid", "the focused launcher shows no focus ring"
        keyboard.press("Enter")
        expect(page.get_by_role("dialog")).to_be_visible()
        assert page.evaluate(f"{focused}.id") == "wcm-question", "opening the panel puts the focus in the text box"

        # Typing instead of speaking.
        keyboard.type("Was kostet das Deutschlandticket?")
        keyboard.press("Enter")
        german = page.locator(".msg.bot[data-action=answer]").first
        expect(german).to_contain_text("63 Euro", timeout=60_000)
        expect(german.locator(".sources a")).to_have_count(1)
        expect(page.locator(".msg.user .question").first).to_have_text("Was kostet das Deutschlandticket?")

        # Choosing a language with the arrow keys: Arabic turns the panel right to left; then English, and
        # press-to-talk with the space bar.
        tab_to("select")
        keyboard.press("ArrowDown")
        keyboard.press("ArrowDown")
        expect(page.get_by_role("dialog", name="مساعد مركز الترحيب")).to_be_visible()
        expect(page.locator(".wcm")).to_have_attribute("dir", "rtl")
        keyboard.press("ArrowUp")
        expect(page.get_by_role("dialog", name="Welcome Center assistant")).to_be_visible()
        expect(page.locator(".wcm")).to_have_attribute("dir", "ltr")
        tab_to(".talk")
        keyboard.down(" ")
        expect(page.get_by_role("button", name="Hold to talk")).to_have_attribute("aria-pressed", "true")
        page.wait_for_timeout(5_500)  # 2 s of silence, then the question
        keyboard.up(" ")
        spoken = page.locator(".msg.user .question").nth(1)
        expect(spoken).to_have_text(re.compile(r"deutschland.?ticket", re.IGNORECASE), timeout=60_000)
        expect(page.locator(".msg.bot[data-action=answer]").nth(1)).to_contain_text("63 euros", timeout=60_000)

        # Talk to staff: open now, so the number to call, and the callback form.
        tab_to(".staff-toggle")
        keyboard.press("Enter")
        expect(page.get_by_role("link", name="06441 0000 000")).to_have_attribute("href", "tel:064410000000")
        tab_to("#wcm-cb-name")
        keyboard.type("Amina K.")
        keyboard.press("Tab")
        keyboard.type("+49 171 2345678")
        tab_to("#wcm-cb-consent")
        keyboard.press("Space")
        tab_to(".callback button[type=submit]")
        keyboard.press("Enter")
        expect(page.locator(".cb-message")).to_have_text("Thank you. Our staff will contact you.")
        page.screenshot(path=str(ARTIFACTS / "widget-keyboard.png"))

        keyboard.press("Escape")
        expect(page.get_by_role("dialog")).to_be_hidden()
        assert page.evaluate(f"{focused}.className") == "launcher", "closing returns the focus to the button"
        assert elsewhere == [] and problems == [], (elsewhere, problems)
        assert page.evaluate("window.__violations") == []
    finally:
        context.close()

    # The callback is queued for staff with this call's record: the call that asked about the ticket.
    callback = next(c for c in store.list_callbacks() if c.name == "Amina K.")
    assert callback.number == "+49 171 2345678" and callback.language == "en"
    assert callback.call_id.startswith("web-")
    assert "Deutschland" in callback.question
    turns = store.get_call(callback.call_id).turns
    assert turns[0].transcript == "Was kostet das Deutschlandticket?"


def test_visitor_reads_the_transcript_notice_and_switches_the_transcript_off(browser, server: str,
                                                                             store: TranscriptStore) -> None:
    import time

    from playwright.sync_api import expect

    first, second = "What does the Deutschlandticket cost per month?", "Where is the Deutschlandticket valid?"
    context, page, elsewhere, problems = open_page(browser, server, "en-US")
    try:
        page.get_by_role("button", name="Open the Welcome Center assistant").click()
        panel = page.get_by_role("dialog", name="Welcome Center assistant")
        expect(panel).to_contain_text("We keep a written transcript of this conversation for quality")
        switch = page.get_by_role("switch", name="Keep no transcript")
        expect(switch).not_to_be_checked()

        page.get_by_label("Or type your question").fill(first)
        page.keyboard.press("Enter")
        expect(page.locator(".msg.bot[data-action=answer]").first).to_contain_text("63 euros", timeout=60_000)
        switch.check()
        expect(page.locator(".transcript-message")).to_have_text(
            "No transcript is kept; what was already stored has been deleted.")
        page.get_by_label("Or type your question").fill(second)
        page.keyboard.press("Enter")
        expect(page.locator(".msg.bot[data-action=answer]").nth(1)).to_be_visible(timeout=60_000)

        page.get_by_label("Language").select_option("de")  # the notice in the panel's language
        expect(page.locator(".transcript-notice")).to_have_text(
            "Wir speichern ein Textprotokoll dieses Gesprächs zur Qualitätssicherung, aber keine Tonaufnahme.")
        expect(page.get_by_role("switch", name="Kein Protokoll speichern")).to_be_checked()
        page.screenshot(path=str(ARTIFACTS / "widget-no-transcript.png"))
        assert elsewhere == [] and problems == [], (elsewhere, problems)
        assert page.evaluate("window.__violations") == []
    finally:
        context.close()

    # The conversation is on record as one that objected, with none of its words.
    deadline = time.monotonic() + 20
    while not [c for c in store.list_calls() if (c.outcome or "").endswith("(transcript objected)")]:
        assert time.monotonic() < deadline, "the widget call was not completed"
        time.sleep(0.2)
    [objected] = [c for c in store.list_calls() if (c.outcome or "").endswith("(transcript objected)")]
    assert store.get_call(objected.id).turns == ()
    spoken = [t.transcript for c in store.list_calls() for t in store.get_call(c.id).turns]
    assert first not in spoken and second not in spoken
