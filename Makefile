# friendlyhello: every entry point is a target here; `make help` lists them by task.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

include hack/versions.env

VENV := .venv
PYTHON := $(VENV)/bin/python
PYTEST := $(PYTHON) -m pytest
# The pinned tools, in .tools/bin. Each is a file target: hack/tools.sh links
# yours when its version is supported, else builds the pinned one, and marks
# it done in .tools/stamps (a new pin builds again).
LOCALBIN := $(CURDIR)/.tools/bin
STAMPS := .tools/stamps
HELM := $(STAMPS)/helm@$(HELM_VERSION)
KIND := $(STAMPS)/kind@$(KIND_VERSION)
KUBECTL := $(STAMPS)/kubectl@$(KUBERNETES_VERSION)
HELM3 := $(STAMPS)/helm3@$(HELM3_VERSION)
CT := $(STAMPS)/ct@$(CHART_TESTING_VERSION)
COMPOSE := $(STAMPS)/docker-compose@$(COMPOSE_VERSION)
SKAFFOLD := $(STAMPS)/skaffold@$(SKAFFOLD_VERSION)
ACTIONLINT := $(STAMPS)/actionlint@$(ACTIONLINT_VERSION)
CHECKOV := $(STAMPS)/checkov@$(CHECKOV_VERSION)
DISTRIBUTION := $(STAMPS)/registry@$(DISTRIBUTION_VERSION)
VEGETA := $(STAMPS)/vegeta@$(VEGETA_VERSION)
COSIGN := $(STAMPS)/cosign@$(COSIGN_VERSION)
CRANE := $(STAMPS)/crane@$(CRANE_VERSION)
SYFT := $(STAMPS)/syft@$(SYFT_VERSION)
KUBE_SCORE := $(STAMPS)/kube-score@$(KUBE_SCORE_VERSION)
PROMTOOL := $(STAMPS)/promtool@$(PROMETHEUS_VERSION)
TOOLS := $(HELM) $(KIND) $(KUBECTL) $(HELM3) $(CT) $(COMPOSE) $(SKAFFOLD) $(ACTIONLINT) $(CHECKOV) $(DISTRIBUTION) $(VEGETA) $(COSIGN) $(CRANE) $(SYFT) $(KUBE_SCORE) $(PROMTOOL)
# Only the cluster suite's last tests run these (skaffold's loop, the release),
# and build them where they are missing (tests/support.py's tool()).
LATE_TOOLS := $(SKAFFOLD) $(COSIGN) $(CRANE) $(SYFT)
# Only the static suite (and make lint) runs these.
STATIC_TOOLS := $(ACTIONLINT) $(CHECKOV) $(KUBE_SCORE) $(PROMTOOL)
CONTEXT := kind-$(CLUSTER_NAME)

##@ Run

.PHONY: up
up: venv-scripts engine $(KIND) $(KUBECTL) $(HELM) ## Cluster, image, chart: deploy to kind and print how to browse
	@hack/up.sh

.PHONY: browse
browse: $(KUBECTL) ## Port-forward the web Service to http://localhost:8080 (BROWSE_PORT)
	@echo "http://localhost:$(BROWSE_PORT)  (Ctrl-C to stop)"
	$(LOCALBIN)/kubectl --context $(CONTEXT) -n $(RELEASE_NAMESPACE) port-forward service/$(RELEASE_NAME) $(BROWSE_PORT):80

.PHONY: down
down: $(KIND) $(KUBECTL) ## Delete the kind cluster (the release and its volume with it) and its registry
	@hack/registry.sh delete
	@hack/cluster.sh delete

##@ Test

# `make test` is these suites in this order, each a folder of tests/;
# .github/workflows/ci.yaml runs each as a job (tests/static/test_workflow.py
# checks both lists agree).
TEST_SUITES := test-unit test-image test-cluster test-static

.PHONY: test
test: prepare test-unit test-image test-cluster-beside-builds test-static ## Run every test (what CI runs): unit, image, cluster, static

# The cluster suite mostly waits (rollouts, probes, the alert and scale-down
# windows): what only its last tests (their tools, the add-ons' images) and
# the static suite (its tools) need is built beside it, at the lowest CPU
# priority, in the order the tests come to it.
.PHONY: test-cluster-beside-builds
test-cluster-beside-builds:
	@hack/test-beside.sh test-cluster $(LATE_TOOLS) addon-images $(STATIC_TOOLS)

.PHONY: test-unit
test-unit: venv deps $(VEGETA) ## The app, gunicorn and the benchmark against a real redis-server
	$(PYTEST) tests/unit

.PHONY: test-static
test-static: venv deps $(TOOLS) ## No cluster, no Docker: chart, schema, policies, lint, pins, every tool, workflows
	$(PYTEST) tests/static

.PHONY: test-image
test-image: venv engine $(COMPOSE) ## The image and compose.yaml on Docker
	$(PYTEST) tests/image

.PHONY: test-cluster
test-cluster: venv cluster $(HELM) $(HELM3) $(CT) $(COMPOSE) $(DISTRIBUTION) ## The chart on the kind cluster: smoke, reliability, network, alerts, autoscaling, registry, release, docs
	$(PYTEST) --durations=30 tests/cluster

.PHONY: lint
lint: venv deps $(HELM) $(HELM3) $(CT) $(ACTIONLINT) $(CHECKOV) $(KUBE_SCORE) ## ruff, shellcheck, helm lint --strict, ct lint, checkov, kube-score, schema validation, actionlint, generated files in sync
	$(PYTEST) tests/static/test_ruff.py tests/static/test_lint.py tests/static/test_checkov.py tests/static/test_kube_score.py \
	  tests/static/test_validate.py tests/static/test_generated.py tests/static/test_workflow.py

.PHONY: bench
bench: venv deps $(VEGETA) ## Benchmark the service against the seed app and a bare-WSGI floor
	$(PYTHON) bench/run.py $(BENCH_ARGS)

# On a new machine most of `make test` is Go builds (the tools, the kind node,
# the cluster add-ons' stand-ins) and downloads. Side by side, the downloads,
# Debian bootstraps and image builds overlap with the compiling instead of
# adding to it (docs/development.md has the figures). The tools only the
# cluster suite's last tests or the static suite run, and the add-ons'
# images, wait for the cluster suite's idle CPU (test-cluster-beside-builds).
# kubectl follows the kind node: where the node is built here, that build
# compiles the same packages, and Go's cache then makes kubectl a link
# instead of a second compile beside the first.
# hack/tools.sh builds one tool at a time (it holds a lock), so the tools are
# one job here: side by side, each would hold one of make's slots waiting for
# the lock, and the node image would wait for their slots.
PREPARED_TOOLS := $(filter-out $(KUBECTL) $(LATE_TOOLS) $(STATIC_TOOLS),$(TOOLS))
.PHONY: prepare
prepare: ## Install and build, side by side, what the unit, image and cluster suites start with
	@$(MAKE) -j4 venv deps engine image redis-image prepared-tools prepared-node

# Without the outer make's flags, so it runs alone, one tool after another.
.PHONY: prepared-tools
prepared-tools:
	@MAKEFLAGS=s $(MAKE) $(PREPARED_TOOLS)

.PHONY: prepared-node
prepared-node:
	@MAKEFLAGS=s $(MAKE) node-image $(KUBECTL)

##@ Operate

.PHONY: backup
backup: $(KUBECTL) ## Snapshot the release's Redis into FILE (an RDB file): make backup FILE=path
	@test -n "$(FILE)" || { echo "usage: make backup FILE=path [RELEASE_NAME= RELEASE_NAMESPACE= KUBE_CONTEXT=]" >&2; exit 2; }
	@hack/redis-snapshot.sh backup "$(FILE)"

.PHONY: restore
restore: $(KUBECTL) ## Restore the snapshot FILE into the release's Redis, checked before anything changes
	@test -n "$(FILE)" || { echo "usage: make restore FILE=path [RELEASE_NAME= RELEASE_NAMESPACE= KUBE_CONTEXT=]" >&2; exit 2; }
	@hack/redis-snapshot.sh restore "$(FILE)"

.PHONY: monitoring
monitoring: cluster ## Prometheus Operator and a Prometheus on the kind cluster, for ServiceMonitors and alerts labelled MONITORING_SELECTOR
	@hack/monitoring.sh up

.PHONY: metrics-server
metrics-server: cluster ## metrics-server on the kind cluster: kubectl top, and the CPU the autoscaler scales on
	@hack/metrics-server.sh up

##@ Develop

.PHONY: dev
dev: cluster $(HELM3) $(SKAFFOLD) ## skaffold dev: edits synced into the pods, port-forward to :8080 (BROWSE_PORT)
	@hack/skaffold.sh dev --profile dev

.PHONY: run
run: venv ## Serve the app locally with gunicorn on :8080 (needs a Redis at REDIS_HOST)
	$(PYTHON) -m gunicorn -c gunicorn.conf.py

.PHONY: compose-up
compose-up: engine $(COMPOSE) ## Run the stack of compose.yaml (web x2 + Redis) on this Docker host
	web=$$(hack/image.sh); redis=$$(hack/resolve-image.sh redis); \
	  WEB_IMAGE=$$web REDIS_IMAGE=$$redis $(LOCALBIN)/docker-compose up --detach --no-build --wait
	@echo "browse http://localhost:8080"

.PHONY: compose-down
compose-down: $(COMPOSE) ## Stop the compose stack and remove its volume
	$(LOCALBIN)/docker-compose down --volumes

.PHONY: image
image: engine ## Build the service image (tag: version + content hash) and print it
	@hack/image.sh

.PHONY: manifests
manifests: venv-scripts $(HELM) ## Regenerate k8s/ (the workloads, the alert rules) from the chart
	@hack/manifests.sh

.PHONY: chart-readme
chart-readme: venv-scripts ## Regenerate chart/README.md's values table from values.yaml
	@$(PYTHON) hack/chart_readme.py

.PHONY: lock
lock: $(PYTHON) ## Re-pin the Python dependencies (requirements*.lock)
	@$(PYTHON) -m pip install --quiet pip-tools
	@hack/lock.sh

##@ Release

.PHONY: release
release: venv-scripts engine $(HELM) $(COSIGN) $(CRANE) $(SYFT) ## Push the signed multi-arch image and OCI chart: REGISTRY=host[/path] VERSION=x.y.z
	@test -n "$(REGISTRY)" -a -n "$(VERSION)" || { echo "usage: make release REGISTRY=host[:port][/path] VERSION=x.y.z" >&2; exit 2; }
	@hack/release.sh "$(REGISTRY)" "$(VERSION)"

.PHONY: registry
registry: cluster ## Run the kind cluster's registry on localhost:5001 (LOCAL_REGISTRY_PORT), as kind documents it
	@hack/registry.sh up

##@ Dependencies

.PHONY: deps
deps: ## Install the Debian packages the tests and the benchmark use (apt-get, as root or with sudo)
	@hack/system-deps.sh

# The tests' virtualenv is rebuilt whenever a lock file changes. The lock is
# the whole set (pip check proves it), so pip resolves nothing; and modules
# compile when first imported, not all of them (the Kubernetes clients are
# most of the tree) before the first test can start.
$(VENV)/.installed: requirements.lock requirements-test.lock $(VENV)/.scripts
	@echo "venv: installing the pinned Python dependencies into $(VENV)"
	@$(PYTHON) -m pip install --quiet --no-deps --no-compile --require-hashes -r requirements-test.lock
	@broken=$$($(PYTHON) -m pip check) || { echo "venv: $$broken" >&2; exit 1; }
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create .venv with the pinned Python dependencies

# What hack/'s Python scripts import (PyYAML), in seconds: the entry points
# that run them and nothing else in Python need no more than this.
$(VENV)/.scripts: hack/requirements.lock | $(PYTHON)
	@$(PYTHON) -m pip install --quiet --no-deps --no-compile --require-hashes -r hack/requirements.lock
	@touch $@

$(PYTHON):
	@python3 -m venv $(VENV)

.PHONY: venv-scripts
venv-scripts: $(VENV)/.scripts ## Create .venv with what the scripts in hack/ import only (make up's share)

.PHONY: engine
engine: ## Make sure a Docker engine answers (installs and starts one where needed)
	@hack/docker-engine.sh

.PHONY: tools
tools: $(TOOLS) ## Link or build every pinned tool into .tools/bin (tool-NAME: one of them)

TOOL_NAMES := helm kind kubectl helm3 ct docker-compose skaffold actionlint checkov registry vegeta cosign crane syft kube-score promtool
.PHONY: $(addprefix tool-,$(TOOL_NAMES))
$(addprefix tool-,$(TOOL_NAMES)): tool-%:
	@hack/tools.sh $*

$(STAMPS)/%: hack/versions.env
	@hack/tools.sh $(firstword $(subst @, ,$*))

.PHONY: cluster
cluster: venv-scripts engine $(KIND) $(KUBECTL) ## Create or reuse the kind cluster
	@hack/cluster.sh up

.PHONY: redis-image
redis-image: engine ## Pull Redis (a local stand-in where no registry answers) and print it
	@hack/resolve-image.sh redis

# Prometheus last: where it is built, promtool's build (a tool) has compiled
# most of its packages by then.
ADDONS := prometheus-operator prometheus-config-reloader prometheus metrics-server
.PHONY: addon-images
addon-images: engine ## Pull the images of the cluster's add-ons (make monitoring, make metrics-server), or build stand-ins
	@for kind in $(ADDONS); do hack/resolve-image.sh $$kind >/dev/null; done

##@ Air-gapped

.PHONY: node-image
node-image: engine ## The kind node image: pulled, or built where no registry answers (cached)
	@hack/resolve-image.sh node >/dev/null

.PHONY: standins
standins: engine ## Build every local stand-in now (base, Redis, kind node, the cluster's add-ons), for a machine going offline
	@for kind in base redis node registry $(ADDONS); do AIRGAP=1 hack/resolve-image.sh $$kind; done

##@ General

.PHONY: help
help: ## List the entry points by task
	@awk 'BEGIN {FS = ":.*## "} \
	  /^##@ / {printf "\n%s\n", substr($$0, 5)} \
	  /^[a-z-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
