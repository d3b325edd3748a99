# qcode: two commands.
#   make demo [PORT=8001]   set up, build db/demo.db from corpus/demo, serve Datasette on 127.0.0.1:PORT
#   make test               set up (with chromium for browser tests) and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8001
STAMP := $(VENV)/.qcode-installed

.PHONY: demo test setup build serve bench evaluate evaluate-anonymiser clean help

help:
	@echo "make demo [PORT=8001]  build db/demo.db from corpus/demo and serve it on 127.0.0.1:PORT"
	@echo "make test              run the whole test suite (installs chromium for browser tests)"
	@echo "make bench             run the speed benchmarks in bench/ (not tests)"
	@echo "make evaluate          cross-validate coding against the demo gold codings"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/qcode warm-up
	touch $(STAMP)

setup: $(STAMP)

keys/users.yaml: | $(STAMP)
	@mkdir -p keys && chmod 700 keys
	@$(BIN)/python -c "import yaml; from datasette_plugins.workbench import hash_password; \
	open('keys/users.yaml', 'w').write(yaml.safe_dump({'users': {'onderzoeker': hash_password('demo')}}))"
	@chmod 600 keys/users.yaml
	@echo "Created keys/users.yaml with the demo login onderzoeker / demo (change it: qcode hash-password)"

build: $(STAMP)
	$(BIN)/qcode build --corpus corpus/demo --db db/demo.db

demo: build keys/users.yaml
	@echo "Open http://127.0.0.1:$(PORT)/-/qcode  (Datasette tables: http://127.0.0.1:$(PORT)/demo)"
	$(BIN)/qcode serve --db db/demo.db --port $(PORT) --users keys/users.yaml

chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and no apt-get: browser tests will be skipped"; fi; \
	fi

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

evaluate: $(STAMP)
	$(BIN)/qcode evaluate --gold corpus/demo/gold_codings.jsonl --folds 5

evaluate-anonymiser: $(STAMP)
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_policy.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_hard.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_blind.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_fresh.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_sixth.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_seventh.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_eighth.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_ninth.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_tenth.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_eleventh.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_twelfth.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_thirteenth.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_fourteenth.yaml
	$(BIN)/qcode evaluate-anonymiser --gold tests/data/anonymiser_gold_fifteenth.yaml

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -f db/demo.db db/demo.db.* db/demo.coding-cache.pickle db/demo.*.pkl keys/demo.key.json keys/demo.cache.pickle
	rm -rf test-artifacts
