"""A tiny, randomly initialised Coqui VITS voice, and the project speaking with it; run in the coqui venv.

    python tests/voice/coqui_tiny_model.py build FOLDER
        saves config.json + model.pth (a few hundred thousand weights: builds and speaks in seconds on a CPU)
    python tests/voice/coqui_tiny_model.py speak TEXT JOBS
        JOBS is a JSON list of {"voice": FOLDER, "out": WAV, "speed": 1.0}: speaks TEXT with each folder as a
        `coqui` voice through voice.tts.Synthesizer (one Synthesizer for all) and prints one JSON line per job:
        {"voice", "wav", "seconds", "rate"}, or {"voice", "error"} for a TtsError

Nothing is downloaded: the model is built from a config here. Its voice is noise shaped like speech, which is
all a test of the loading and synthesis path needs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# German and English letters; VITS reads characters directly (no phonemiser, so no espeak dependency).
GRAPHEMES = "abcdefghijklmnopqrstuvwxyzäöüß"
PUNCTUATION = "!'(),-.:;? "


def build(folder: Path) -> dict:
    import torch
    from TTS.tts.configs.shared_configs import BaseAudioConfig, CharactersConfig
    from TTS.tts.configs.vits_config import VitsArgs, VitsConfig
    from TTS.tts.models.vits import Vits

    torch.manual_seed(0)
    args = VitsArgs(
        hidden_channels=16, hidden_channels_ffn_text_encoder=32, num_heads_text_encoder=2,
        num_layers_text_encoder=1, num_layers_posterior_encoder=1, num_layers_flow=1,
        resblock_kernel_sizes_decoder=[3], resblock_dilation_sizes_decoder=[[1, 3, 5]],
        upsample_initial_channel_decoder=32, use_sdp=False, init_discriminator=False,
    )
    config = VitsConfig(
        model_args=args,
        audio=BaseAudioConfig(sample_rate=22050, hop_length=256, win_length=1024, fft_size=1024),
        text_cleaner="multilingual_cleaners",
        phoneme_language="de",  # only names the model's language (sentence splitting); no phonemes
        use_phonemes=False,
        add_blank=True,
        characters=CharactersConfig(
            characters_class="TTS.tts.models.vits.VitsCharacters", pad="_", eos="", bos="", blank="<BLNK>",
            characters=GRAPHEMES, punctuations=PUNCTUATION, phonemes=None, is_unique=True, is_sorted=True,
        ),
        test_sentences=[],
    )
    model = Vits(config)
    folder.mkdir(parents=True, exist_ok=True)
    config.save_json(str(folder / "config.json"))
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, folder / "model.pth")
    return {"folder": str(folder), "weights": sum(p.numel() for p in model.parameters())}


def speak(text: str, jobs: list[dict]) -> list[dict]:
    import torch

    from voice.tts import Synthesizer, TtsError, VoiceChoice

    torch.manual_seed(0)  # VITS samples noise: the same audio on every run
    synthesizer = Synthesizer({}, models=None)
    results = []
    for job in jobs:
        folder = job["voice"]
        try:
            audio = synthesizer.speak(text, "de", VoiceChoice("coqui", folder, speed=job.get("speed", 1.0)))
        except TtsError as exc:
            results.append({"voice": folder, "error": str(exc)})
            continue
        audio.write_wav(Path(job["out"]))
        results.append({"voice": folder, "wav": job["out"], "seconds": audio.seconds, "rate": audio.rate})
    return results


def main(argv: list[str]) -> int:
    if argv[:1] == ["build"] and len(argv) == 2:
        print(json.dumps(build(Path(argv[1]))))
        return 0
    if argv[:1] == ["speak"] and len(argv) == 3:
        for result in speak(argv[1], json.loads(argv[2])):
            print(json.dumps(result))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
