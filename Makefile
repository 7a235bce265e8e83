# The two commands that do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
# The first interpreter of that version that runs: pyenv's shims exist for every
# installed version but only run the active one, so pyenv's own folders come first.
find_python = $(shell for p in $$(pyenv root 2>/dev/null)/versions/$(1)*/bin/python$(1) $$(command -v python$(1)); \
	do "$$p" -c "" 2>/dev/null && echo "$$p" && break; done)
PYTHON310 ?= $(call find_python,3.10)
PYTHON311 ?= $(call find_python,3.11)
RASA_ENV := .venv/rasa
SERVICES_ENV := .venv/services
RASA := PYTHONPATH=$(CURDIR) PYTHAINLP_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=3 $(RASA_ENV)/bin/rasa
MODEL := models/thai-eservice.tar.gz
NLU_DATA := $(wildcard data/nlu/*.yml) data/rules.yml $(wildcard data/stories*.yml)
export PYTHAINLP_OFFLINE := 1
export RASA_TELEMETRY_ENABLED := false

# The contract and the masking, installed into both environments from the repository.
LOCAL_PACKAGES := -e ./contract -e ./privacy
# Tests that need no running assistant, trained model, browser or PostgreSQL (pytest markers,
# registered in pyproject.toml).
UNIT := not e2e and not needs_model and not browser and not postgres

.PHONY: run up down shell user test unit hostile lint train validate lexicon faq bench bench-nlu setup browser clean

# RASA_REPLICAS=N (N > 1) runs N Rasa servers behind HAProxy, which `make balancer` installs.
BALANCER := $(if $(filter-out 1,$(RASA_REPLICAS)),balancer)

## run: set up, train if needed, start catalog + actions + Rasa + gateway; Ctrl-C stops them
run: setup $(MODEL) $(BALANCER)
	@scripts/stack up
	@echo
	@echo "The assistant is up:"
	@echo "  web chat      http://localhost:8000/"
	@echo "  Rasa REST     curl -s localhost:5005/webhooks/rest/webhook -H \"Authorization: Bearer \$$(cat run/rest-token)\" \\"
	@echo "                  -d '{\"sender\":\"me\",\"message\":\"ทำพาสปอร์ตกี่บาท\"}'"
	@echo "  catalog       http://localhost:8001/services"
	@echo "  terminal chat make shell"
	@echo "Logs follow; Ctrl-C stops everything."
	@trap 'scripts/stack down' EXIT INT TERM; tail -n 0 -F run/*.log

## up / down: the same stack in the background
up: setup $(MODEL) $(BALANCER)
	@scripts/stack up

down:
	@scripts/stack down

## shell: chat with the assistant in the terminal (starts the catalog and actions if needed)
# Rasa's shell serves a REST channel of its own, without a token: on loopback only (its default is every interface).
shell: setup $(MODEL)
	@scripts/stack up catalog actions models
	@MODEL_SERVER_URL=$${MODEL_SERVER_URL:-http://127.0.0.1:5006/models/current} $(RASA) shell --model $(MODEL) --endpoints endpoints.yml --interface 127.0.0.1

## user: a staff account made or changed: make user NAME=somchai ROLE=agent [AGENCY=dlt] [DISPLAY_NAME=...],
## the password from the environment only (read -rs USER_PASSWORD; export USER_PASSWORD)
user: $(SERVICES_ENV)/.installed
	@PYTHONPATH=$(CURDIR) $(SERVICES_ENV)/bin/python -m staff.users "$(NAME)" "$(ROLE)" $(if $(AGENCY),"$(AGENCY)") \
		$(if $(DISPLAY_NAME),--display-name "$(DISPLAY_NAME)")

setup: $(RASA_ENV)/.installed $(SERVICES_ENV)/.installed

## setup: both environments with runtime and development requirements (the images take the runtime only)
$(RASA_ENV)/.installed: requirements/rasa.txt requirements/actions.txt requirements/rasa-dev.txt \
		requirements/rasa.lock contract/pyproject.toml privacy/pyproject.toml
	test -x $(RASA_ENV)/bin/python || $(PYTHON310) -m venv $(RASA_ENV)
	$(RASA_ENV)/bin/pip install -q -U "pip<25" wheel
	$(RASA_ENV)/bin/pip install -q -r requirements/rasa-dev.txt -c requirements/rasa.lock
	$(RASA_ENV)/bin/pip install -q --no-deps $(LOCAL_PACKAGES)
	touch $@

$(SERVICES_ENV)/.installed: requirements/services.txt requirements/services-dev.txt requirements/services.lock \
		contract/pyproject.toml privacy/pyproject.toml
	test -x $(SERVICES_ENV)/bin/python || $(PYTHON311) -m venv $(SERVICES_ENV)
	$(SERVICES_ENV)/bin/pip install -q -U pip
	$(SERVICES_ENV)/bin/pip install -q -r requirements/services-dev.txt -c requirements/services.lock
	$(SERVICES_ENV)/bin/pip install -q --no-deps $(LOCAL_PACKAGES)
	touch $@

## lexicon: the NLU's service names, from the catalog records
lexicon: data/nlu/lexicon.yml
data/nlu/lexicon.yml: $(wildcard catalog/seed/*.json) catalog/lexicon.py | $(RASA_ENV)/.installed
	PYTHONPATH=$(CURDIR) $(RASA_ENV)/bin/python -m catalog.lexicon --seed-dir catalog/seed --out $@

## faq: the NLU's FAQ questions and variants, from the catalog's FAQ entries (catalog/faq/*.yml)
faq: data/nlu/faq.yml
data/nlu/faq.yml: $(wildcard catalog/faq/*.yml) $(wildcard catalog/seed/*.json) catalog/faq_training.py \
		| $(RASA_ENV)/.installed
	PYTHONPATH=$(CURDIR) $(RASA_ENV)/bin/python -m catalog.faq_training --faq-dir catalog/faq --seed-dir catalog/seed --out $@

## train: only when the model is older than its data, config or components
train: $(MODEL)
$(MODEL): config.yml domain.yml $(NLU_DATA) data/nlu/lexicon.yml data/nlu/faq.yml $(wildcard bot/nlu/*.py) | $(RASA_ENV)/.installed
	$(RASA) train --config config.yml --domain domain.yml --data data --out models --fixed-model-name thai-eservice

validate: $(RASA_ENV)/.installed
	$(RASA) data validate --config config.yml --domain domain.yml --data data --fail-on-warnings

lint: setup
	$(RASA_ENV)/bin/ruff check .
	$(RASA_ENV)/bin/hadolint Dockerfile

## k8s-validate: deploy/'s Kubernetes manifests against the schemas of this Kubernetes version, strictly
## (unknown fields are errors), offline: kubernetes-validate ships the schemas. tests/deploy checks
## what the schemas cannot (selectors, ports, keys, network policies).
K8S_VERSION ?= 1.34.0
.PHONY: k8s-validate
k8s-validate: $(SERVICES_ENV)/.installed
	$(SERVICES_ENV)/bin/kubernetes-validate --strict --quiet --kubernetes-version $(K8S_VERSION) \
		$$(ls deploy/*.yaml | grep -v '/kustomization.yaml$$')

## browser: Debian's Chromium for the web page's tests (no browser download)
browser:
	@command -v chromium >/dev/null && fc-list | grep -qi tlwg && fc-list | grep -qi "color emoji" || \
		{ apt-get update -qq && apt-get install -y -qq chromium fonts-thai-tlwg fonts-noto-color-emoji >/dev/null; }

.PHONY: balancer load chaos
## balancer: Debian's HAProxy, in front of Rasa's replicas (RASA_REPLICAS, scripts/stack); its service stays off
balancer:
	@command -v haproxy >/dev/null || { apt-get update -qq && apt-get install -y -qq haproxy >/dev/null; }

## test: everything, on a fresh machine
# The suites share one stack on ports of their own, so a running `make up` is not disturbed.
TEST_STACK := CATALOG_PORT=18001 ACTIONS_PORT=15055 RASA_PORT=15005 GATEWAY_PORT=18000 ANALYTICS_PORT=18002 \
	RUN_DIR=$(CURDIR)/run/test TRACKER_DB_NAME=rasa_test RASA_TOKEN=test-rasa-token \
	CATALOG_ADMIN_TOKEN=test-catalog-admin-token \
	STAFF_DB_URL=postgresql://postgres@127.0.0.1:5432/staff_test
pytest_ok = status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

SERVICES_TESTS := tests/contract tests/privacy tests/catalog tests/gateway tests/staff tests/analytics tests/deploy \
	tests/ops
RASA_TESTS := tests/contract tests/privacy tests/bot tests/bench tests/e2e

test: setup browser balancer $(MODEL)
	python3 ../shared/eval/leakcheck.py --near
	$(MAKE) lint k8s-validate validate unit
	$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors --out results/core
	$(TEST_STACK) scripts/stack up catalog actions rasa analytics trainer
	export RASA_URL=http://127.0.0.1:15005 RASA_TOKEN=test-rasa-token ACTION_ENDPOINT_URL=http://127.0.0.1:15055/webhook \
		ANALYTICS_URL=http://127.0.0.1:18002 REST_TOKEN=$$(cat run/test/rest-token) \
		CATALOG_URL=http://127.0.0.1:18001 CATALOG_ADMIN_TOKEN=test-catalog-admin-token; \
	trap '$(TEST_STACK) scripts/stack down' EXIT; \
	$(SERVICES_ENV)/bin/pytest -m "not ($(UNIT))" $(SERVICES_TESTS); $(pytest_ok) || exit $$status; \
	$(RASA_ENV)/bin/pytest -m "not ($(UNIT))" $(RASA_TESTS); $(pytest_ok) || exit $$status; \
	PYTHONPATH=$(CURDIR) $(SERVICES_ENV)/bin/python -m privacy.audit

## hostile: 10,000 hostile requests (Hypothesis) at every public endpoint of the gateway and the catalog,
## against the test stack; prints how many were answered with a 5xx, which must be 0 (make test runs 240)
hostile: setup $(MODEL)
	$(TEST_STACK) scripts/stack up catalog actions rasa
	export RASA_URL=http://127.0.0.1:15005 RASA_TOKEN=test-rasa-token ACTION_ENDPOINT_URL=http://127.0.0.1:15055/webhook \
		REST_TOKEN=$$(cat run/test/rest-token) HOSTILE_REQUESTS=$${HOSTILE_REQUESTS:-10000}; \
		trap '$(TEST_STACK) scripts/stack down' EXIT; \
	$(SERVICES_ENV)/bin/pytest -q -p no:cacheprovider -W ignore::hypothesis.errors.HypothesisWarning tests/gateway/test_hostile.py

## unit: the tests that need nothing running (no model, stack, browser or database), in both environments
unit: setup
	$(SERVICES_ENV)/bin/pytest -q -m "$(UNIT)" $(SERVICES_TESTS); $(pytest_ok)
	$(RASA_ENV)/bin/pytest -q -m "$(UNIT)" $(RASA_TESTS); $(pytest_ok)

# Rasa's REST channel wants the token scripts/stack keeps in the run folder; score.py sends it as a header.
REST_HEADER = --header "Authorization: Bearer $$(cat $${RUN_DIR:-run}/rest-token)"

## bench: the dev conversation set end to end over REST, one user and then 4 at a time; agent assist against the chat on first turns;
## an agency's record edit to the chat's answer using it
bench: up
	@mkdir -p results
	python3 ../shared/eval/score.py --data ../shared/eval/dev.jsonl $(REST_HEADER) --json results/bench.json \
		| tee results/bench.txt | tail -n 14
	python3 -m bench.cpu run/rasa.pid run/actions.pid -- \
		python3 ../shared/eval/score.py --data ../shared/eval/dev.jsonl $(REST_HEADER) --concurrency 4 --show-failures 0 \
		| tee results/bench-c4.txt | grep -E "latency|SUMMARY|CPU"
	@echo "model size: $$(du -h $(MODEL) | cut -f1)   Rasa server memory: $$(python3 -m bench.memory run/rasa.pid)"
	PYTHONPATH=$(CURDIR) $(SERVICES_ENV)/bin/python -m bench.handoff --json results/bench-handoff.json | tee results/bench-handoff.txt
	PYTHONPATH=$(CURDIR) $(SERVICES_ENV)/bin/python -m bench.assist --data ../shared/eval/dev.jsonl --json results/bench-assist.json | tee results/bench-assist.txt
	PYTHONPATH=$(CURDIR) $(SERVICES_ENV)/bin/python -m bench.edit | tee results/bench-edit.txt

## load: the web chat under 1, 4, 20 and 100 users (Locust, headless, 30 s each), with one Rasa server and then
## two replicas; turns a second and p50/p95/p99, lost turns, turns stored twice (about 10 minutes; a stack of its own)
load: setup balancer $(MODEL)
	@mkdir -p results
	set -o pipefail; PYTHONPATH=$(CURDIR) $(SERVICES_ENV)/bin/python -m bench.load load --json results/load.json \
		| tee results/load.txt

## chaos: 8 users on two replicas while a replica is killed, the catalog stopped, PostgreSQL and then Redis
## restarted (the machine's, started again in any case): what each run lost, which must be nothing
chaos: setup balancer $(MODEL)
	@mkdir -p results
	set -o pipefail; PYTHONPATH=$(CURDIR) $(SERVICES_ENV)/bin/python -m bench.load chaos --json results/chaos.json \
		| tee results/chaos.txt

## bench-nlu: the project's NLU against its peers, the community Rasa pipeline and e5-knn (about 30 min)
bench-nlu: setup $(MODEL)
	PYTHONPATH=$(CURDIR) $(RASA_ENV)/bin/python -m bench.run

clean:
	scripts/stack down; rm -rf models results run
