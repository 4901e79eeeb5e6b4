# Two entry points for a fresh machine (Python 3.11, Java 17, Maven):
#   make demo  - start local Kafka + Elasticsearch and ship sample logs to both
#   make test  - run the unit and integration suites against real servers
#                (in containers when a Docker engine can be had: root installs and starts one)
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# xunit1 keeps per-test properties (the brokers each test used) in the junit reports.
JUNIT := -o junit_family=xunit1

.PHONY: demo test test-containers e2e unit integration lint bench bench-record dev-up dev-down \
	docker-up docker-down clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The compiled core (native/, Rust): logwax runs without it (LOGWAX_NATIVE=0), only slower.
NATIVE_SOURCES := native/Cargo.toml native/Cargo.lock native/pyproject.toml $(wildcard native/src/*.rs)

$(STAMP): $(BIN)/python pyproject.toml $(NATIVE_SOURCES)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@if [ "$${LOGWAX_NATIVE:-1}" = 0 ]; then echo "LOGWAX_NATIVE=0: the compiled core is not built"; \
	else echo "building the compiled core (native/, cargo) ..."; \
	  $(BIN)/python -m pip install --quiet --force-reinstall --no-deps ./native; fi
	@touch $(STAMP)

demo:
	@bash devtools/system-packages.sh demo
	@$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/python -m devtools demo

# The whole suite runs once on testcontainers brokers over the project's Docker engine (root:
# installed and started here, stopped again afterwards if this started it), image tests
# included; where no engine can be had it runs on the same real servers as local processes.
# The local-process path is covered by the broker smoke tests either way.
# pytest exits 5 when it collected no tests: nothing failed, so say so and do not fail.
SMOKE := tests/integration/test_brokers_smoke.py
E2E := tests/integration/e2e

test:
	@bash devtools/system-packages.sh test
	@$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/python -m devtools up --kubernetes
	@rc=0; $(BIN)/python -m devtools docker with -- $(MAKE) --no-print-directory test-containers || rc=$$?; \
	LOGWAX_TEST_NO_DOCKER=1 $(BIN)/python -m pytest $(SMOKE) $(JUNIT) \
	  --junitxml=build/junit/local-processes.xml || rc=$$?; \
	exit $$rc

test-containers:
	@rc=0; $(BIN)/python -m pytest tests --ignore=$(E2E) $(JUNIT) \
	  --junitxml=build/junit/testcontainers.xml || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "WARNING: pytest collected no tests"; rc=0; fi; \
	exit $$rc

# The end-to-end suite on a one-node Kubernetes cluster on loopback (python -m devtools k8s
# up|down|status): kubelet, containerd and a control plane of its own, the brokers as local
# processes, the images built on the project's engine and imported into the node. A node or an
# engine this run started is stopped again at its end. Not part of `make test`: minutes, and root.
e2e:
	@bash devtools/system-packages.sh e2e
	@$(MAKE) --no-print-directory $(STAMP)
	$(BIN)/python -m devtools up
	LOGWAX_E2E=1 LOGWAX_TEST_NO_DOCKER=1 $(BIN)/python -m devtools docker --require with -- \
	  $(BIN)/python -m pytest $(E2E) $(JUNIT) --junitxml=build/junit/e2e.xml

docker-up: $(STAMP)
	$(BIN)/python -m devtools docker up --images

docker-down: $(STAMP)
	$(BIN)/python -m devtools docker down

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

lint: $(STAMP)
	cargo fmt --manifest-path native/Cargo.toml --check
	cargo clippy --quiet --manifest-path native/Cargo.toml --release -- -D warnings
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy logwax devtools
	$(BIN)/hadolint Dockerfile devtools/dockerfiles/*/Dockerfile

dev-up: $(STAMP)
	$(BIN)/python -m devtools up

dev-down: $(STAMP)
	$(BIN)/python -m devtools down

# rsyslog (imfile → omkafka) is the C peer; installed from Debian when we are root and it is missing.
# make bench BENCH_ARGS="--only journald" runs one group of scenarios (bench/run.py --help).
bench: $(STAMP)
	@[ -x /usr/sbin/rsyslogd ] && [ -e /usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so ] || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq rsyslog rsyslog-kafka >/dev/null; } || \
	  echo "rsyslog with omkafka unavailable: the rsyslog comparison is left out"
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-record: $(STAMP)
	$(BIN)/python bench/record_model.py

clean:
	rm -rf $(VENV) build *.egg-info
