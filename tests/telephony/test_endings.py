"""How calls end when the caller does not end them: silence, the maximum length, an internal fault.

Faults in the middle of a call (the voice, the recogniser, the dialogue, a refused transfer) are in
test_faults.py."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.services import VoiceServices
from telephony.line import CallPolicy
from telephony.simulator import TwimlReply
from tests.telephony.conftest import STAFF_NUMBER, SUNDAY_10, TUESDAY_10, completed_call, serve
from voice.answer_audio import AnswerAudioCache
from voice.provision import locate
from voice.tts import Synthesizer, VoiceChoice


async def _cut_greeting(line) -> None:
    await line.wait_for_audio(since=0)
    await line.press("1")  # Deutsch; any key stops the greeting
    await line.wait_until(lambda: bool(line.clears), 5, "clear")


async def test_silent_caller_is_asked_once_then_told_goodbye_and_hung_up(voice_services, dialogue, fake_api, store):
    policy = CallPolicy(silence_prompt_s=2.0)
    with serve(voice_services, dialogue, fake_api, store, policy=policy) as server:
        call = await server.twilio.incoming_call()
        async with call.connect() as line:
            await _cut_greeting(line)
            await asyncio.wait_for(line.closed.wait(), 60)
        assert fake_api.wait_for(lambda: fake_api.hang_ups(call.call_sid), 10)
        assert (await completed_call(store, call.call_sid)).call.outcome == "silence"
    # "Gut, wir sprechen weiter auf Deutsch." / "Haben Sie noch eine Frage?" / the goodbye, each heard in full
    assert len(line.marks) == 1 and line.heard_seconds(line.clears[-1]) > 4.0


async def test_quiet_is_counted_on_the_callers_audio_when_the_server_reads_it_late(
        voice_services, dialogue, fake_api, store):
    """A server that falls behind reads the caller's audio seconds after it was spoken: its own backlog is no
    silence of the caller's, so it neither prompts early nor hangs up on a goodbye it has not read yet."""
    policy = CallPolicy(silence_prompt_s=3.0)
    with serve(voice_services, dialogue, fake_api, store, policy=policy) as server:
        call = await server.twilio.incoming_call()
        async with call.connect(speed=0.5) as line:  # 3 s of the caller's audio take 6 s to arrive
            await _cut_greeting(line)
            await line.wait_for_answer(since=line.clears[-1], quiet_s=1.0)  # "Gut, wir sprechen weiter auf Deutsch."
            told = line.playback_end
            await line.wait_for_audio(since=told + 0.5, timeout_s=30)  # "Haben Sie noch eine Frage?"
            prompted = min(chunk.starts for chunk in line.heard_chunks if chunk.starts >= told + 0.5)
            await line.hang_up()
        assert (await completed_call(store, call.call_sid)).call.outcome == "hung_up"
    assert prompted - told >= 5.0, f"prompted {prompted - told:.1f} s after the last words, on our clock"


async def test_call_at_the_maximum_length_says_goodbye_and_hangs_up(voice_services, dialogue, fake_api, store):
    policy = CallPolicy(max_call_s=6.0, silence_prompt_s=60.0)
    with serve(voice_services, dialogue, fake_api, store, policy=policy) as server:
        call = await server.twilio.incoming_call()
        async with call.connect() as line:
            await _cut_greeting(line)
            await asyncio.wait_for(line.closed.wait(), 60)
        assert fake_api.wait_for(lambda: fake_api.hang_ups(call.call_sid), 10)
        assert (await completed_call(store, call.call_sid)).call.outcome == "max_length"


@pytest.fixture(scope="module")
def mute_voices(voice_services, tmp_path_factory) -> VoiceServices:
    """The real services with every voice misconfigured: speaking fails inside the call (an internal fault)."""
    broken = {lang: VoiceChoice("piper", "no-such-voice") for lang in voice_services.settings.languages}
    synthesizer = Synthesizer(broken, locate(voice_services.settings.cache_dir))
    answers = AnswerAudioCache(tmp_path_factory.mktemp("no-audio"), synthesizer)
    return VoiceServices(voice_services.settings, voice_services.dialogue, voice_services.transcriber, synthesizer,
                         answers)


@pytest.mark.parametrize("moment", [TUESDAY_10, SUNDAY_10], ids=["open", "closed"])
async def test_internal_fault_ends_in_an_apology_and_staff_while_open(mute_voices, dialogue, fake_api, store, moment):
    with serve(mute_voices, dialogue, fake_api, store) as server:
        server.clock.moment = moment
        call = await server.twilio.incoming_call()
        async with call.connect() as line:  # the greeting cannot be spoken
            await asyncio.wait_for(line.closed.wait(), 30)
        [update] = fake_api.updates(call.call_sid)
        outcome = (await completed_call(store, call.call_sid)).call.outcome
    apology = TwimlReply.parse(200, update.form["Twiml"])
    assert apology.says[0].startswith("Es tut mir leid") and apology.says[-1].startswith("Vielen Dank")
    assert "<Hangup" in apology.body
    if moment == TUESDAY_10:
        assert apology.dial_number == STAFF_NUMBER and outcome == "fault, transferred"
        assert "action" not in apology.dial_attributes  # staff not answering must not bring back a broken bot
    else:
        assert apology.dial_number is None and outcome == "fault"
    assert not fake_api.hang_ups(call.call_sid)  # Twilio's <Say> carries on; we did not cut it off


def test_policy_reads_the_telephony_settings(settings):
    changed = settings.model_copy(update={"telephony": settings.telephony.model_copy(update={"max_call_minutes": 2})})
    policy = CallPolicy.from_settings(changed)
    assert policy.max_call_s == 120.0 and policy.silence_prompt_s == settings.telephony.silence_prompt_s
