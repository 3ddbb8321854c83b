"""Call a running hotline as Twilio would, and hear it, without a phone.

    python -m telephony.simulator --url http://127.0.0.1:8000 --wav question.wav --out reply.wav

Signs the voice webhook with the configured auth token (config/hotline.yaml or TWILIO_AUTH_TOKEN), opens the
media socket from the TwiML, listens to the greeting, says the question from the WAV file in real time,
waits for the answer and writes everything the caller heard to --out. With --fake-api PORT it also serves a
stand-in for Twilio's REST API (start the server with TWILIO_API_BASE_URL=http://127.0.0.1:PORT), so
transfers, hang-ups and text messages are printed instead of reaching api.twilio.com. `--then-key 1` presses
1 after the answer: yes to the links by SMS (the server needs TWILIO_SMS_FROM).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from telephony.simulator import TwilioSimulator
from telephony.simulator.fake_api import FakeTwilioApi
from voice.audio import Audio, AudioError, read_audio


def main(argv: list[str] | None = None) -> int:
    from hotline.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m telephony.simulator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=f"http://{settings.server.host}:{settings.server.port}",
                        help="where the hotline server listens (default: server.host and server.port)")
    parser.add_argument("--public-url", default=settings.server.public_url,
                        help="the URL Twilio is configured with; webhooks are signed for it (default: "
                             "server.public_url, HOTLINE_PUBLIC_URL)")
    parser.add_argument("--wav", type=Path, required=True, help="the caller's question (any audio file)")
    parser.add_argument("--out", type=Path, help="write what the caller heard here (WAV, 8 kHz)")
    parser.add_argument("--key", help="press this key first (1-9, 0: the language menu; *: object to the transcript)")
    parser.add_argument("--interrupt", action="store_true", help="ask over the greeting instead of after it")
    parser.add_argument("--then-key", help="press this key after the answer (1: yes to the links by SMS)")
    parser.add_argument("--from", dest="from_number", default="+4915100000000", help="the caller's number")
    parser.add_argument("--fake-api", type=int, metavar="PORT", help="serve a fake Twilio REST API on this port")
    parser.add_argument("--timeout", type=float, default=90.0, help="give up waiting for audio after this long")
    args = parser.parse_args(argv)
    try:
        question = read_audio(args.wav)
    except AudioError as exc:
        print(exc, file=sys.stderr)
        return 2
    api = None
    if args.fake_api:
        api = FakeTwilioApi(settings.twilio.account_sid, settings.twilio.auth_token)
        print(f"fake Twilio REST API on {api.start(port=args.fake_api)}")
    twilio = TwilioSimulator(args.url, settings.twilio.account_sid, settings.twilio.auth_token, args.public_url)
    try:
        return asyncio.run(_call(twilio, question, args, api))
    except OSError as exc:
        print(f"cannot reach the hotline at {args.url}: {exc}; is `hotline serve` running?", file=sys.stderr)
        return 1
    finally:
        if api:
            api.stop()


async def _call(twilio: TwilioSimulator, question: Audio, args: argparse.Namespace, api: FakeTwilioApi | None) -> int:
    call = await twilio.incoming_call(from_number=args.from_number)
    reply = call.twiml
    if reply.status == 403:
        print("the server refused the webhook signature: --public-url must be the server's public URL and the "
              "auth token the same on both sides", file=sys.stderr)
        return 1
    if not reply.stream_url:
        print(f"no media stream offered (HTTP {reply.status}); Twilio would say: {' / '.join(reply.says)}")
        return 1
    print(f"call {call.call_sid}: connected to {reply.stream_url}")
    started = time.monotonic()
    async with call.connect() as line:
        await line.wait_for_audio(since=0, timeout_s=args.timeout)
        if args.key:
            await line.press(args.key)
            await line.wait_for_answer(since=time.monotonic(), quiet_s=1.0, timeout_s=args.timeout)
        elif not args.interrupt:
            await line.wait_for_answer(since=0, quiet_s=1.5, timeout_s=args.timeout)
        print(f"{time.monotonic() - started:5.1f} s  asking ({question.seconds:.1f} s of audio)")
        await line.say(question, trailing_silence_s=0.5)
        answer = await line.wait_for_answer(quiet_s=3.0, timeout_s=args.timeout)
        print(f"{time.monotonic() - started:5.1f} s  heard {answer.seconds:.1f} s of answer")
        if args.then_key and not line.closed.is_set():
            pressed = time.monotonic()
            await line.press(args.then_key)
            await line.wait_for_answer(since=pressed, quiet_s=2.0, timeout_s=args.timeout)
            print(f"{time.monotonic() - started:5.1f} s  pressed {args.then_key}, heard the reply")
        if not line.closed.is_set():
            await line.hang_up()
    print(f"clears: {len(line.clears)}, marks echoed: {[name for _, name in line.marks]}")
    if api:
        for request in api.for_call(call.call_sid):
            print(f"REST {request.method} {request.path}: {request.form}")
        for message in api.messages(args.from_number):
            print(f"SMS from {message.form.get('From')} to {message.form['To']}:\n{message.form['Body']}")
    if args.out:
        line.heard().write_wav(args.out)
        print(f"wrote {line.heard().seconds:.1f} s to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
