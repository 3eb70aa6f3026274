# friendlyhello: every entry point is a target here; `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

include hack/versions.env

VENV := .venv
PYTHON := $(VENV)/bin/python
PYTEST := $(PYTHON) -m pytest
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: help
help: ## List the entry points
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The virtualenv is rebuilt whenever a lock file changes.
$(VENV)/.installed: requirements.lock requirements-test.lock
	@echo "venv: installing the pinned Python dependencies into $(VENV)"
	@test -x $(PYTHON) || python3 -m venv $(VENV)
	@$(PYTHON) -m pip install --quiet --require-hashes -r requirements-test.lock
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create .venv with the pinned dependencies

.PHONY: system-deps
system-deps: ## Install the Debian packages tests need (redis-server, wrk, shellcheck)
	@hack/system-deps.sh

.PHONY: engine
engine: ## Make sure a Docker engine answers (installs and starts one where needed)
	@hack/docker-engine.sh

.PHONY: tools
tools: ## Build or link every pinned tool into .tools/ (each target below needs only its own)
	@hack/tools.sh

# One target per tool: a target names just the tools it runs, so `make up`
# builds helm and kind and nothing else. A tool already on PATH at exactly the
# pinned version is linked instead of built (hack/tools.sh).
TOOL_NAMES := helm kind ct docker-compose skaffold helm3 actionlint checkov registry vegeta
TOOL_TARGETS := $(addprefix tool-,$(TOOL_NAMES))
.PHONY: $(TOOL_TARGETS)
$(TOOL_TARGETS): tool-%:
	@hack/tools.sh $*

.PHONY: image
image: engine ## Build the service image (tag: version + content hash) and print it
	@hack/image.sh

# The Redis image compose and the chart run (a local stand-in where no
# registry answers). After `image`: both start from the same local base.
.PHONY: redis-image
redis-image: image
	@hack/redis-image.sh >/dev/null

# `make test` is these suites in this order; .github/workflows/ci.yaml runs
# each as a job (tests/chart/test_workflow.py checks both lists agree).
TEST_SUITES := test-unit test-chart test-image test-cluster

.PHONY: test
test: prepare $(TEST_SUITES) ## Run every test (what CI runs): unit, chart, image, cluster

# On a new machine most of `make test` is Go builds (the tools, the kind node)
# and downloads. Side by side, the downloads, Debian bootstraps and image
# builds overlap with the compiling instead of adding to it (README.md has
# the figures). A machine that has it all is through in a second.
.PHONY: prepare
prepare: ## Install and build, side by side, everything make test needs
	@$(MAKE) -j4 venv system-deps engine tools image redis-image node-image

.PHONY: test-unit
test-unit: venv system-deps ## Run the app's tests against a real redis-server
	$(PYTEST) tests/unit

.PHONY: test-image
test-image: venv engine tool-docker-compose ## Build the image and test it and compose.yaml on Docker
	$(PYTEST) -m image tests

.PHONY: compose-up
compose-up: engine tool-docker-compose ## Run the stack of compose.yaml (web x2 + Redis) on this Docker host
	WEB_IMAGE=$$(hack/image.sh) REDIS_IMAGE=$$(hack/redis-image.sh) \
	  docker-compose up --detach --no-build --wait
	@echo "browse http://localhost:8080"

.PHONY: compose-down
compose-down: tool-docker-compose ## Stop the compose stack and remove its volume
	docker-compose down --volumes

.PHONY: test-chart
test-chart: venv system-deps tool-helm tool-helm3 tool-ct tool-actionlint tool-checkov tool-skaffold ## Render, validate, lint and policy-check the chart (no cluster)
	$(PYTEST) -m chart tests

.PHONY: lint
lint: venv system-deps tool-helm tool-helm3 tool-ct tool-actionlint tool-checkov ## helm lint --strict, ct lint, shellcheck, checkov, schema validation, actionlint, generated files in sync
	$(PYTEST) tests/chart/test_ruff.py tests/chart/test_lint.py tests/chart/test_checkov.py tests/chart/test_validate.py tests/chart/test_generated.py tests/chart/test_workflow.py

.PHONY: manifests
manifests: tool-helm ## Regenerate k8s/ from the chart
	@hack/manifests.sh

.PHONY: chart-readme
chart-readme: venv ## Regenerate chart/README.md's values table from values.yaml
	@$(PYTHON) hack/chart_readme.py

.PHONY: node-image
node-image: engine ## Build the kind node image where kindest/node cannot be pulled (cached)
	@hack/cluster.sh node-image >/dev/null

.PHONY: cluster
cluster: venv tool-kind ## Create or reuse the kind cluster (builds a node image where none can be pulled)
	@hack/cluster.sh up

.PHONY: cluster-delete
cluster-delete: ## Delete the kind cluster
	@hack/cluster.sh delete

.PHONY: up
up: venv engine tool-helm tool-kind ## Cluster, image, chart: deploy to kind and print how to browse
	@hack/up.sh

.PHONY: browse
browse: ## Port-forward the web Service to http://localhost:8080 (BROWSE_PORT)
	@echo "http://localhost:$(BROWSE_PORT)  (Ctrl-C to stop)"
	kubectl --context kind-$(CLUSTER_NAME) -n $(RELEASE_NAMESPACE) port-forward service/$(RELEASE_NAME) $(BROWSE_PORT):80

.PHONY: down
down: ## Remove the release and the kind cluster
	-helm --kube-context kind-$(CLUSTER_NAME) uninstall $(RELEASE_NAME) --namespace $(RELEASE_NAMESPACE) --wait
	@hack/cluster.sh delete

.PHONY: dev
dev: engine tool-helm3 tool-skaffold cluster ## skaffold dev: edits synced into the pods, port-forward to :8080 (BROWSE_PORT)
	@hack/skaffold.sh dev --profile dev

.PHONY: test-cluster
test-cluster: venv engine tool-helm tool-helm3 tool-ct tool-skaffold tool-docker-compose tool-registry cluster ## Smoke and reliability tests of the chart on the kind cluster
	$(PYTEST) -m cluster --durations=30 tests

.PHONY: bench
bench: venv system-deps tool-vegeta ## Benchmark the service against the seed app and a bare-WSGI floor
	$(PYTHON) bench/run.py $(BENCH_ARGS)

.PHONY: run
run: venv ## Serve the app locally with gunicorn on :8080 (needs a Redis at REDIS_HOST)
	$(PYTHON) -m gunicorn -c gunicorn.conf.py

.PHONY: lock
lock: venv ## Re-pin the Python dependencies (requirements*.lock)
	@$(PYTHON) -m pip install --quiet pip-tools
	@hack/lock.sh
