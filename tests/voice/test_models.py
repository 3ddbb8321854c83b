"""Model provisioning: weights come from packages, are checked, and a missing one says how to fix it."""

import pytest

from voice.provision import ModelError, locate, provision_whisper


def test_missing_models_name_the_model_and_the_fix(tmp_path):
    with pytest.raises(ModelError) as error:
        locate(tmp_path)
    assert "whisper-base" in str(error.value) and "make setup" in str(error.value)


def test_a_corrupt_joined_model_is_rebuilt_from_the_packages(tmp_path):
    folder = provision_whisper(tmp_path)
    model = folder / "model.bin"
    with model.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"corrupt!")
    (folder / "model.bin.sha256").unlink()
    provision_whisper(tmp_path)
    from voice.provision import WHISPER_BASE_SHA256, _verified

    assert _verified(model, WHISPER_BASE_SHA256)


def test_a_missing_speech_model_stops_the_transcriber_with_a_message(tmp_path):
    from voice.stt import ModelMissingError, Transcriber

    with pytest.raises(ModelMissingError, match="hotline models"):
        Transcriber(tmp_path)
