"""The widget's parts without a browser: who may connect, how much they may send, what the panel says."""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hotline.settings import KNOWN_LANGUAGES
from telephony.widget import WidgetConfig, create_widget_router
from telephony.widget.config import OriginPolicy
from telephony.widget.limits import LimitExceeded, SessionLimits, TokenBucket
from telephony.widget.staff import staff_info, tel_uri
from telephony.widget.texts import load_panel_texts

BERLIN = ZoneInfo("Europe/Berlin")


def test_the_origin_allow_list_admits_configured_sites_loopback_and_the_server_itself() -> None:
    policy = OriginPolicy(("https://www.welcomecenter-mittelhessen.de", "https://*.giessen.de",
                           "http://localhost:*"), own=("https://hotline.example.org",))
    allows = policy.allows
    assert allows("https://www.welcomecenter-mittelhessen.de")
    assert allows("https://WWW.Welcomecenter-Mittelhessen.de")
    assert allows("https://stadt.giessen.de") and allows("https://a.b.giessen.de")
    assert allows("http://localhost:5173") and allows("http://localhost")
    assert allows("https://hotline.example.org")
    assert allows("http://10.0.0.5:8000", host="10.0.0.5:8000")  # the page the server itself served
    assert not allows("http://welcomecenter-mittelhessen.de")  # another scheme, another origin
    assert not allows("https://www.welcomecenter-mittelhessen.de.evil.example")
    assert not allows("https://giessen.de.evil.example") and not allows("https://evilgiessen.de")
    assert not allows("https://localhost:8000")
    assert not allows(None) and not allows("null") and not allows("")
    assert not allows("https://www.welcomecenter-mittelhessen.de/path")
    for host in ("[::1", "a:99999", "[", "x:y"):  # found by fuzzing: these raised ValueError (HTTP 500)
        assert not allows("http://10.0.0.5:8000", host=host)
        assert allows("https://hotline.example.org", host=host)


def test_a_misspelt_origin_in_the_config_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="is not an origin such as https://www.example.org"):
        WidgetConfig(allowed_origins=("www.welcomecenter-mittelhessen.de/widget",))


def test_limits_allow_real_time_audio_and_stop_a_flood() -> None:
    now = [0.0]
    limits = SessionLimits(WidgetConfig(), clock=lambda: now[0])
    for _ in range(100):  # ten seconds of microphone at 100 ms a frame
        limits.check_audio(3200)
        now[0] += 0.1
    with pytest.raises(LimitExceeded) as too_big:
        limits.check_audio(64_000)
    assert too_big.value.code == "frame_too_big" and too_big.value.fatal
    with pytest.raises(LimitExceeded) as flood:
        for _ in range(200):
            limits.check_audio(3200)
    assert flood.value.code == "rate_limited"


def test_typed_questions_and_callbacks_are_limited_without_ending_the_session() -> None:
    now = [0.0]
    limits = SessionLimits(WidgetConfig(max_callbacks=1), clock=lambda: now[0])
    for _ in range(5):
        limits.check_question()
    with pytest.raises(LimitExceeded) as questions:
        limits.check_question()
    assert not questions.value.fatal
    now[0] += 3.0  # 20 a minute: one more after three seconds
    limits.check_question()
    limits.check_callback()
    with pytest.raises(LimitExceeded) as callbacks:
        limits.check_callback()
    assert callbacks.value.code == "callback_limit" and not callbacks.value.fatal


def test_a_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=2, clock=lambda: now[0])
    assert bucket.take() and bucket.take() and not bucket.take()
    now[0] += 0.5
    assert bucket.take() and not bucket.take()


def test_talk_to_staff_gives_the_number_while_open_and_the_next_opening_when_closed(dialogue) -> None:
    tuesday_morning = datetime(2026, 12, 1, 10, 0, tzinfo=BERLIN)
    open_now = staff_info(dialogue, "en", tuesday_morning)
    assert open_now["open"] and open_now["tel"] == "tel:064410000000" and open_now["text"] == ""
    friday_evening = datetime(2026, 12, 4, 18, 0, tzinfo=BERLIN)
    closed = staff_info(dialogue, "de", friday_evening)
    assert not closed["open"]
    assert "Montag" in closed["text"] and "9:00" in closed["text"]
    assert closed["next_opening"] == "2026-12-07T09:00:00+01:00"
    assert tel_uri("+49 (6441) 0000-000") == "tel:+4964410000000"


def test_the_panel_speaks_every_served_language_and_arabic_right_to_left(settings) -> None:
    texts = load_panel_texts(KNOWN_LANGUAGES)
    assert set(texts) == set(KNOWN_LANGUAGES)
    english = texts["en"]
    for language, table in texts.items():
        assert table.keys() == english.keys(), language
        if language != "en":
            same = [k for k in ("launcher", "talk", "staff", "cb_submit") if table[k] == english[k]]
            assert not same, f"{language} still has English for {same}"


def test_the_script_embeds_its_texts_and_fetches_nothing_from_elsewhere(voice_services) -> None:
    app = FastAPI()
    app.include_router(create_widget_router(voice_services, None))
    client = TestClient(app)
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    body = script.text
    config = json.loads(re.search(r"const CONFIG = (\{.*?\});\n", body).group(1))
    assert {lang["code"]: lang["dir"] for lang in config["languages"]}["ar"] == "rtl"
    assert config["texts"]["uk"]["talk"] == "Утримуйте, щоб говорити"
    urls = set(re.findall(r"https?://[^\s\"'`)]+", body)) - {"https://HOST/widget.js", "http://www.w3.org/2000/svg"}
    assert urls == set(), f"widget.js names other hosts: {urls}"
    assert client.get("/widget.js", headers={"If-None-Match": script.headers["etag"]}).status_code == 304
    worklet = client.get("/widget/worklet.js")
    assert "registerProcessor" in worklet.text and worklet.headers["access-control-allow-origin"] == "*"
    page = client.get("/")
    assert '<script src="/widget.js" defer></script>' in page.text


def test_the_widget_section_of_the_settings_is_used_when_there_is_one() -> None:
    from types import SimpleNamespace

    configured = WidgetConfig.from_settings(SimpleNamespace(widget={"allowed_origins": ["https://www.example.org"],
                                                                    "session_limit_s": 300}))
    assert configured.allowed_origins == ("https://www.example.org",) and configured.session_limit_s == 300
    assert WidgetConfig.from_settings(SimpleNamespace()) == WidgetConfig()
