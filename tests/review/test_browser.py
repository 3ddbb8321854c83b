"""The review UI in a real browser: Debian's Chromium driven by Playwright, against a real uvicorn server.

Never downloads a browser (no `playwright install`): a missing /usr/bin/chromium fails the test and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from review.store import TranscriptStore
from review.web import create_review_router
from tests.review.conftest import FAST_ARGON2
from tests.review.seed import NOW, seed_calls
from tests.servers import running

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PASSWORD = "correct horse battery"


@pytest.fixture
def review_server(tmp_path: Path) -> Iterator[str]:
    """A uvicorn server on a free loopback port serving the review router over a seeded SQLite store."""
    store = TranscriptStore(f"sqlite:///{tmp_path / 'hotline.db'}", password_hasher=FAST_ARGON2)
    seed_calls(store)
    store.add_user("anna", PASSWORD)
    app = FastAPI()
    app.include_router(create_review_router(store, "browser-test-secret-key-0123456789", clock=lambda: NOW))
    with running(app, "review-uvicorn") as url:
        yield url
    store.close()


def test_staff_log_in_filter_open_a_call_flag_an_answer_and_close_a_callback(review_server: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: install Debian's package "
                    "(apt-get install chromium). This test drives the system browser and never downloads one.")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            page = context.new_page()

            # Without a session: the login page, and 401 for the API.
            page.goto(f"{review_server}/review/calls")
            expect(page).to_have_url(f"{review_server}/review/login?next=%2Freview%2Fcalls")
            assert context.request.get(f"{review_server}/review/api/calls").status == 401

            page.fill("input[name=username]", "anna")
            page.fill("input[name=password]", PASSWORD)
            page.click("button:has-text('Log in')")
            expect(page).to_have_url(f"{review_server}/review/calls")
            expect(page.locator("tbody tr")).to_have_count(6)

            # Filter: unanswered calls, then a word from one of them.
            page.select_option("select[name=action]", "unanswered")
            page.click("button:has-text('Filter')")
            expect(page.locator("tbody tr")).to_have_count(2)
            page.fill("input[name=q]", "zahnarzt")
            page.click("button:has-text('Filter')")
            expect(page.locator("tbody tr")).to_have_count(1)

            # Open the call: its turns as a timeline.
            page.click("tbody tr td a")
            expect(page.locator("h1")).to_contain_text("call-ar-unanswered")
            expect(page.locator("ol.timeline > li")).to_have_count(2)
            expect(page.locator(".question").first).to_have_text("أين أجد طبيب أسنان يتكلم العربية؟")

            # Flag the first answer as wrong, with a note.
            first = page.locator("ol.timeline > li").first
            first.locator("summary").click()
            first.locator("textarea[name=note]").fill("Liste arabischsprachiger Zahnärzte fehlt")
            first.locator("button:has-text('Flag this answer as wrong')").click()
            expect(page.locator(".notice")).to_have_text("The flag was saved.")
            expect(page.locator("ol.timeline > li").first).to_contain_text("Flagged as wrong by anna")
            page.screenshot(path=str(ARTIFACTS / "review-call.png"), full_page=True)
            page.click("nav a:has-text('Flagged answers')")
            expect(page.locator("tbody")).to_contain_text("Liste arabischsprachiger Zahnärzte fehlt")

            # The callback queue: mark the oldest request done.
            page.click("nav a:has-text('Callbacks')")
            expect(page.locator("tbody tr")).to_have_count(2)
            page.locator("tbody tr").first.locator("button:has-text('Mark done')").click()
            expect(page.locator(".notice")).to_have_text("Marked as done.")
            expect(page.locator("tbody tr")).to_have_count(1)
            expect(page.locator("tbody")).to_contain_text("+49 171 2345678")

            # German UI, remembered; the dashboard's charts are inline SVG.
            page.goto(f"{review_server}/review/dashboard?lang=de&days=7")
            expect(page.locator("h1")).to_have_text("Übersicht")
            expect(page.locator("svg.chart")).to_have_count(3)
            page.screenshot(path=str(ARTIFACTS / "review-dashboard.png"), full_page=True)
            page.click("nav a:has-text('Rückrufe')")
            expect(page.locator("h1")).to_contain_text("Rückrufe")

            # Logging out ends it.
            page.click("button:has-text('Abmelden')")
            expect(page).to_have_url(f"{review_server}/review/login")
            page.goto(f"{review_server}/review/flags")
            expect(page.locator("input[name=password]")).to_be_visible()
        finally:
            browser.close()
