"""Every served language has a configured voice that speaks; each backend works or says why not."""

import pytest

from voice.tts import TtsError, VoiceChoice


@pytest.mark.parametrize("language", ["de", "en", "ar", "tr", "uk", "ru", "es", "fr", "pl", "ro"])
def test_every_language_has_a_voice_that_speaks(voice_services, language):
    audio = voice_services.synthesizer.speak(voice_services.dialogue.phrases.say(language, "goodbye"), language)
    assert audio.seconds > 0.3
    assert abs(audio.samples).max() > 0.05


@pytest.mark.parametrize(
    ("choice", "language"),
    [(VoiceChoice("piper", "en_US-joe-medium"), "en"), (VoiceChoice("kokoro", "jm_kumo", "de"), "de"),
     (VoiceChoice("espeak", "de"), "de")],
)
def test_each_backend_speaks(voice_services, choice, language):
    audio = voice_services.synthesizer.speak("Guten Tag, willkommen.", language, choice)
    assert audio.seconds > 0.5


def test_an_unknown_voice_says_what_is_available(voice_services):
    with pytest.raises(TtsError, match="jm_kumo"):
        voice_services.synthesizer.speak("Hallo", "de", VoiceChoice("kokoro", "nobody", "de"))


def test_the_coqui_backend_without_its_extra_says_how_to_install_it(voice_services, tmp_path):
    with pytest.raises(TtsError, match="coqui"):
        voice_services.synthesizer.speak("Hallo", "de", VoiceChoice("coqui", str(tmp_path)))
