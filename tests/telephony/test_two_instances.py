"""Several servers, one hotline: two `hotline serve` processes, each its own data folder, one PostgreSQL.

The instances are started together on an empty database, as an operator's two systemd units would be. Twilio's
part is played by the simulator: it signs for the public address both instances share and talks to whichever
instance the test chooses, as a proxy might send it. The last test puts the reference nginx configuration
(deploy/nginx) in front of both.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import holidays
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from pipeline.config import WEEKDAYS
from pipeline.records import CallRecord
from review.store import TranscriptStore
from telephony.simulator import SimulatedCall, TwilioSimulator, TwimlReply
from tests.instances import Instance, hotline, running
from tests.review.conftest import postgres_server  # noqa: F401  (the throwaway PostgreSQL server)
from tests.servers import free_port
from tests.telephony.conftest import ACCOUNT_SID, AUTH_TOKEN, STAFF_NUMBER
from tests.telephony.test_calls import QUESTION, STAFF, choose_german

ROOT = Path(__file__).resolve().parent.parent.parent
PUBLIC_URL = "https://hotline.example.test"  # the proxy's address: what Twilio is told, the same for both
PASSWORD = "correct horse battery"


def always_open() -> dict[str, str]:
    """Opening hours under which staff take calls now, whatever day the tests run on."""
    today = datetime.now(UTC).date()
    country = next(code for code in ("DE", "FR", "JP", "US", "BR")
                   if not {today, today + timedelta(days=1)} & set(holidays.country_holidays(code, years=today.year)))
    return {
        "HOTLINE__OPENING_HOURS__TIMEZONE": "UTC",
        "HOTLINE__OPENING_HOURS__WEEKLY": "{" + ", ".join(f"{day}: ['00:00-23:59']" for day in WEEKDAYS) + "}",
        "HOTLINE__OPENING_HOURS__CLOSURES": "[]",
        "HOTLINE__OPENING_HOURS__HOLIDAYS__COUNTRY": country,
        "HOTLINE__OPENING_HOURS__HOLIDAYS__SUBDIVISION": "null",
    }


@pytest.fixture(scope="module")
def database_url(postgres_server) -> str:  # noqa: F811
    return postgres_server.empty_database_url()


@pytest.fixture(scope="module")
def environment(database_url: str, fake_api) -> dict[str, str]:
    """What deploy/systemd/hotline.env sets, for this test's database, fake REST API and public address."""
    return {"DATABASE_URL": database_url, "HOTLINE_PUBLIC_URL": PUBLIC_URL, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_API_BASE_URL": fake_api.base_url, **always_open()}


@pytest.fixture(scope="module")
def instances(tmp_path_factory, environment) -> Iterator[dict[str, Instance]]:
    with running(["a", "b"], tmp_path_factory.mktemp("instances"), environment) as started:
        yield started


@pytest.fixture(scope="module")
def store(database_url: str) -> Iterator[TranscriptStore]:
    """The shared database, as a third reader (what the review UI of either instance shows)."""
    transcripts = TranscriptStore(database_url, redact_contacts=False)
    yield transcripts
    transcripts.close()


@pytest.fixture(scope="module")
def staff_account(instances, environment) -> str:
    added = hotline("users", "add", "anna", "--password-stdin", env=environment, stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    return "anna"


def twilio_at(instance: Instance) -> TwilioSimulator:
    return TwilioSimulator(instance.url, ACCOUNT_SID, AUTH_TOKEN, public_url=PUBLIC_URL)


def log_in(client: httpx.Client, base: str, user: str = "anna", password: str = PASSWORD) -> httpx.Response:
    page = client.get(f"{base}/review/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post(f"{base}/review/login", data={"username": user, "password": password, "csrf_token": token})


def metrics_of(instance: Instance) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(instance.url + "/metrics", timeout=10)  # from loopback, as Prometheus on the host
    assert response.status_code == 200, response.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_two_instances_started_together_on_an_empty_database_both_serve(instances, store) -> None:
    for name, instance in instances.items():
        health = httpx.get(instance.url + "/healthz", timeout=10).json()
        assert health["status"] == "ok" and health["instance"] == name
        # Nothing a call or a login needs is in an instance's data folder: no database, no secret file; only
        # the journal that holds this instance's writes while the database is away (empty now).
        assert [p.name for p in instance.data_dir.iterdir()] in ([], ["journal"]), name
        assert health["journal"]["pending"] == 0
    assert store.list_users() == []  # the schema is there, migrated once


def test_a_login_on_one_instance_is_valid_on_the_other_and_a_logout_on_one_ends_it_on_both(
        instances, staff_account, store) -> None:
    a, b = instances["a"].url, instances["b"].url
    store.start_call(CallRecord("seen-by-both", "phone", datetime.now(UTC)))
    with httpx.Client(timeout=30) as browser:  # one browser; the proxy sends its requests anywhere
        assert log_in(browser, a).status_code == 303
        for base in (a, b):
            page = browser.get(f"{base}/review/calls")
            assert page.status_code == 200 and "anna" in page.text and "seen-by-both" in page.text, base
        calls = browser.get(f"{b}/review/calls").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', calls).group(1)
        assert browser.post(f"{b}/review/logout", data={"csrf_token": token}).status_code == 303
        for base in (a, b):
            assert browser.get(f"{base}/review/calls").status_code == 303, base
            assert browser.get(f"{base}/review/api/calls").status_code == 401, base


def test_a_password_changed_on_the_command_line_ends_the_sessions_on_every_instance(
        instances, staff_account, environment) -> None:
    with httpx.Client(timeout=30) as browser:
        assert log_in(browser, instances["b"].url).status_code == 303
        assert browser.get(f"{instances['a'].url}/review/calls").status_code == 200
        changed = hotline("users", "passwd", "anna", "--password-stdin", env=environment, stdin="new " + PASSWORD)
        assert changed.returncode == 0 and "1 session(s) ended" in changed.stdout, changed.stderr
        for instance in instances.values():
            assert browser.get(f"{instance.url}/review/calls").status_code == 303
    restored = hotline("users", "passwd", "anna", "--password-stdin", env=environment, stdin=PASSWORD)
    assert restored.returncode == 0, restored.stderr


async def test_a_transfer_started_on_one_instance_and_returned_on_the_other_offers_the_callback_with_the_question(
        instances, fake_api, speech, store) -> None:
    a, b = instances["a"], instances["b"]
    before_a, before_b = metrics_of(a), metrics_of(b)
    call = await twilio_at(a).incoming_call(from_number="+4915112345678")
    assert call.twiml.stream_url == "wss://hotline.example.test/twilio/media/a"  # the proxy routes it to a
    async with call.connect() as line:  # a question, then a wish to speak to staff: put through by a
        await choose_german(line)
        await line.say(speech(QUESTION), trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=3.0)
        await line.say(speech(STAFF), trailing_silence_s=0.3)
        await asyncio.wait_for(line.closed.wait(), 90)
    [update] = fake_api.updates(call.call_sid)
    dial = TwimlReply.parse(200, update.form["Twiml"])
    assert dial.dial_number == STAFF_NUMBER and dial.dial_attributes["action"] == f"{PUBLIC_URL}/twilio/dial-result?lang=de"

    # Staff do not answer; Twilio reports it to b this time, and the caller comes back to the bot there.
    back = SimulatedCall(twilio_at(b), call.call_sid, call.from_number, call.to_number)
    reply = await back.dial_ended(dial.dial_attributes["action"], "no-answer")
    assert reply.stream_url == "wss://hotline.example.test/twilio/media/b"
    async with back.connect() as line:
        await line.wait_for_answer(since=0, quiet_s=1.0)  # "Möchten Sie einen Rückruf?"
        await line.say(speech("Ja, das wäre gut."), trailing_silence_s=0.3)
        await line.wait_for_answer(quiet_s=2.0)  # "Vielen Dank. Unser Team ruft Sie zurück."
        await line.hang_up()
    deadline = time.monotonic() + 30
    while not (detail := store.get_call(call.call_sid)).callbacks and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    [callback] = detail.callbacks
    assert callback.number == "+4915112345678" and callback.language == "de"
    assert "wohnung" in callback.question.lower(), callback.question  # asked on a, before the transfer

    def grew(before, after, name, **labels) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    after_a, after_b = metrics_of(a), metrics_of(b)
    assert grew(before_a, after_a, "hotline_calls_total", channel="phone", outcome="transferred") == 1
    assert grew(before_a, after_a, "hotline_turns_total", action="transfer", language="de") == 1
    assert grew(before_b, after_b, "hotline_turns_total", action="answer", language="de") == 1  # the callback
    assert grew(before_b, after_b, "hotline_voice_to_voice_seconds_count", channel="phone") == 1
    deadline = time.monotonic() + 30
    while metrics_of(b).get(("hotline_active_calls", (("channel", "phone"),))) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert metrics_of(b)[("hotline_active_calls", (("channel", "phone"),))] == 0


async def test_a_media_socket_sent_to_the_wrong_instance_is_refused_with_what_to_check(instances) -> None:
    async with connect(instances["b"].url.replace("http", "ws") + "/twilio/media/a") as socket:
        await asyncio.wait_for(socket.wait_closed(), 10)
    assert socket.close_code == 1008
    assert "check the proxy's /twilio/media/ routing" in instances["b"].log.read_text()


# --- the reference nginx configuration in front of both ----------------------------------------------------

NGINX_MISSING = ("nginx and openssl are needed to test the reference deployment (deploy/nginx): "
                 "apt-get install nginx-light openssl")


@pytest.fixture(scope="module")
def nginx(instances, tmp_path_factory) -> Iterator[tuple[str, ssl.SSLContext]]:
    """deploy/nginx as shipped, with this test's ports, a self-signed certificate and a folder of its own."""
    binary, openssl = shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("openssl")
    if not Path(binary).exists() or not openssl:
        pytest.fail(NGINX_MISSING, pytrace=False)
    folder = tmp_path_factory.mktemp("nginx")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    port, plain = free_port(), free_port()
    ports = {"8001": instances["a"].url.rsplit(":", 1)[1], "8002": instances["b"].url.rsplit(":", 1)[1]}
    config = (ROOT / "deploy" / "nginx" / "hotline.conf").read_text()
    for shipped, ours in ports.items():
        config = config.replace(f"127.0.0.1:{shipped}", f"127.0.0.1:{ours}")
    config = (config.replace("/etc/letsencrypt/live/hotline.example.org/fullchain.pem", str(folder / "cert.pem"))
              .replace("/etc/letsencrypt/live/hotline.example.org/privkey.pem", str(folder / "key.pem"))
              .replace("/etc/nginx/snippets/hotline-locations.conf",
                       str(ROOT / "deploy" / "nginx" / "hotline-locations.conf"))
              .replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;").replace("listen 80;", f"listen 127.0.0.1:{plain};"))
    config = "\n".join(line for line in config.splitlines() if "listen [::]" not in line)
    (folder / "hotline.conf").write_text(config)
    (folder / "nginx.conf").write_text(
        f"worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n access_log off;\n client_body_temp_path {folder}/body;\n proxy_temp_path {folder}/proxy;\n"
        f" include {folder}/hotline.conf;\n}}\n")
    checked = subprocess.run([binary, "-t", "-c", str(folder / "nginx.conf"), "-p", str(folder)],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    server = subprocess.Popen([binary, "-c", str(folder / "nginx.conf"), "-p", str(folder), "-g", "daemon off;"],
                              stderr=subprocess.PIPE)
    context = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url + "/healthz", verify=context, timeout=2)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"nginx did not start: {(folder / 'error.log').read_text(errors='replace')}")
            time.sleep(0.2)
    yield url, context
    server.terminate()
    server.wait(10)


async def test_through_the_reference_nginx_calls_reach_the_instance_that_took_them(nginx, instances,
                                                                                    staff_account) -> None:
    url, context = nginx
    with httpx.Client(verify=context, timeout=30) as client:
        answered_by = {client.get(url + "/healthz").json()["instance"] for _ in range(4)}
        assert answered_by == {"a", "b"}  # HTTP goes to both
        assert client.get(url + "/metrics").status_code == 404  # each instance's figures stay on its host
        assert log_in(client, url).status_code == 303
        assert all(client.get(url + "/review/calls").status_code == 200 for _ in range(4))  # on either one
    twilio = TwilioSimulator(url, ACCOUNT_SID, AUTH_TOKEN, public_url=PUBLIC_URL, ssl_context=context)
    took = set()
    for _ in range(2):  # consecutive webhooks go to a, then b (round robin)
        call = await twilio.incoming_call()
        assert call.twiml.stream_url, call.twiml.body
        took.add(call.twiml.stream_url.rsplit("/", 1)[1])
        async with call.connect() as line:  # the WebSocket upgrade, through nginx, to the instance named
            await line.wait_for_audio(since=0, timeout_s=30)  # the greeting: the stream was accepted there
            assert line.close_code is None
            await line.hang_up()
    assert took == {"a", "b"}


async def test_through_the_reference_nginx_one_address_cannot_flood_the_widget_or_the_login(nginx) -> None:
    url, context = nginx
    socket_url = url.replace("https://", "wss://") + "/widget/ws"
    accepted, refused = [], []
    for _ in range(8):  # opened at once, well inside the instances' wait for a hello
        try:
            accepted.append(await connect(socket_url, origin=PUBLIC_URL, ssl=context, open_timeout=10))
        except InvalidStatus as refusal:
            refused.append(refusal.response.status_code)
    for socket in accepted:
        await socket.close()
    # Six reach the instances (three each, under their own four per address); the proxy answers the rest.
    assert (len(accepted), refused) == (6, [429, 429])

    with httpx.Client(verify=context, timeout=30) as client:
        page = client.get(url + "/review/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answers = [client.post(url + "/review/login", data={
            "username": f"guess{n}", "password": "not the password", "csrf_token": token}) for n in range(12)]
    assert answers[0].status_code == 401  # a wrong password, checked by an instance
    flood = answers[-5:]
    assert all(answer.status_code == 429 and "nginx" in answer.text for answer in flood), \
        [(answer.status_code, answer.text[:80]) for answer in answers]
