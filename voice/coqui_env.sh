#!/usr/bin/env bash
# Builds the optional Coqui TTS extra into its own venv, beside (not inside) the project's venv:
#   voice/coqui_env.sh COQUI_VENV MAIN_VENV
# torch in the main venv would slow every `import haystack` fourfold, so it lives only here. A .pth file puts
# the main venv's site-packages (the project, numpy, soundfile, ...) on this venv's path, after its own, so
# only what the extra adds is installed; pip is held to the main venv's versions by constraints.txt.
# Safe to run again: it only installs what is missing.
set -euo pipefail

venv=$1
main_venv=$2
root=$(cd "$(dirname "$0")/.." && pwd)

# The same interpreter as the main venv, so the compiled packages seen through the .pth file fit.
[ -x "$venv/bin/python" ] || "$main_venv/bin/python" -m venv "$venv"
main_site=$("$main_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# addsitedir (not a bare path) so the main venv's own .pth files count too, e.g. the project's editable install.
echo "import site; site.addsitedir('$main_site')" >"$site/hotline-main-venv.pth"

# The extra's pins come from pyproject.toml (one list for operators and for this venv).
mapfile -t extra < <("$venv/bin/python" -c '
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["coqui"]))' "$root/pyproject.toml")
torch_pin=$(printf '%s\n' "${extra[@]}" | grep '^torch==')

pip=("$venv/bin/python" -m pip --disable-pip-version-check)
# torch first and pinned: pip then takes the CPU build from the local wheels (an unpinned torch pulls CUDA).
"${pip[@]}" install --quiet -c "$root/constraints.txt" "$torch_pin"
"${pip[@]}" install --quiet -c "$root/constraints.txt" "${extra[@]}"

# torchaudio's compiled libraries are built against CUDA and fail to load here; without them torchaudio falls
# back to pure Python, which is all the Coqui models the hotline uses need (VITS imports it for resampling).
ta_lib=$("$venv/bin/python" -c 'import importlib.util as u, pathlib; print(pathlib.Path(u.find_spec("torchaudio").origin).parent / "lib")')
if compgen -G "$ta_lib/*.so" >/dev/null; then
    mkdir -p "$ta_lib/disabled"
    mv "$ta_lib"/*.so "$ta_lib/disabled/"
fi

"$venv/bin/python" -c 'import TTS.utils.synthesizer, voice.tts; print("coqui venv ready: coqui-tts", TTS.__version__)'
