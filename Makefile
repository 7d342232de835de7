# sendlens: two commands on a fresh machine with Python 3.11+ and make.
#   make run                    build the corpus (scrape, or LETTERS=<folder of PDFs>), tag it, open the app
#   make test                   lint and run the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORPUS ?= $(or $(SENDLENS_CORPUS),corpus)
LETTERS ?=
PORT ?= 8501
# Test processes (pytest-xdist): one a core; 0 runs the suite in this process alone.
TEST_WORKERS ?= auto

.PHONY: run corpus tag app test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

run: app

# With LETTERS, a mistyped folder stops here; import's exit code 1 (some files skipped,
# each named with its reason) does not: the rest is imported. Without it, a scrape that
# could not fetch everything (offline, some letters failed: exit 1, said in its summary)
# carries on with the corpus there is, if there is one (asked of sendlens, which reads a
# quoted "~/corpus" as the home folder, as a test by the shell would not); one that ran out
# of disk (exit 2) stops here. --reparse reads letters an older sendlens imported again, so
# that a re-run picks up the parser's fixes.
corpus: $(BIN)/.installed
ifneq ($(strip $(LETTERS)),)
	@[ -e "$(LETTERS)" ] || { echo "error: LETTERS=$(LETTERS): no such file or folder" >&2; exit 2; }
	$(BIN)/sendlens import "$(LETTERS)" --reparse --corpus "$(CORPUS)" || [ $$? -eq 1 ]
else
	$(BIN)/sendlens scrape --corpus "$(CORPUS)" || { [ $$? -eq 1 ] && \
		$(BIN)/sendlens info --corpus "$(CORPUS)" >/dev/null 2>&1; }
	$(BIN)/sendlens import --reparse --corpus "$(CORPUS)" || [ $$? -eq 1 ]
endif

tag: corpus
	$(BIN)/sendlens tag --corpus "$(CORPUS)"

app: tag
	$(BIN)/sendlens app --corpus "$(CORPUS)" --port $(PORT)

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .

# A file's tests stay in one process (--dist loadfile): its module fixtures are built once.
test: lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: $(BIN)/.installed-dev
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
