# VistterStream — two commands: `make run` and `make test`.
# Everything they need is installed or built by the targets below.

SHELL := /bin/bash
CARGO ?= cargo
DATA_DIR ?= ./data
LISTEN ?= 127.0.0.1:8080
BIN_RELEASE := target/release/vistterstream
BIN_DEBUG := target/debug/vistterstream
# The stages that run the binary (API types, schemathesis, browser tests) take the one that
# `cargo test --workspace` builds for the integration tests: `cargo build -p vistterstream`
# resolves features without the tests' dev-dependencies (tokio's test-util, …) and would
# compile tokio and everything above it a second time.
BUILD_BIN := $(CARGO) test --workspace --no-run --quiet

.PHONY: run test deps deps-run ui ui-check api-types api-types-check build release lint deny rust-test api-contract packaging-test e2e bench clean

## Start the appliance on http://$(LISTEN) (data in $(DATA_DIR); simulated cameras when none is configured).
run: deps-run ui release
	VS_DATA_DIR=$(DATA_DIR) $(BIN_RELEASE) serve --listen $(LISTEN) --demo

## Run every test: formatting, lints, Rust unit + integration tests, UI checks, browser tests.
## scripts/test.sh runs the stages below in order and prints the time of each.
test:
	@bash scripts/test.sh

deps:
	@bash scripts/install-deps.sh test

deps-run:
	@bash scripts/install-deps.sh run

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund

ui: web/node_modules/.package-lock.json
	cd web && npm run build

## Type check, unit tests, eslint and prettier of the web UI.
ui-check: web/node_modules/.package-lock.json
	cd web && npm run check && npm test && npm run lint && npm run format:check

## Regenerate the UI's API types (web/src/api/) from the OpenAPI document of the current code.
api-types: web/node_modules/.package-lock.json
	$(BUILD_BIN)
	cd web && VS_BIN=$(CURDIR)/$(BIN_DEBUG) npm run gen:api

## Fail when the committed API types differ from what the current code generates.
api-types-check: web/node_modules/.package-lock.json
	$(BUILD_BIN)
	cd web && VS_BIN=$(CURDIR)/$(BIN_DEBUG) npm run check:api

build:
	$(CARGO) build --workspace --all-targets

release:
	$(CARGO) build --release -p vistterstream -p vs-decoder

lint:
	$(CARGO) fmt --all -- --check
	rustfmt --edition 2021 --check bench/worker/src/bin/*.rs
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Licences, duplicate versions, sources and advisories of the dependency graph (deny.toml).
deny:
	bash scripts/deny.sh

rust-test:
	$(CARGO) test --workspace --no-fail-fast

## The OpenAPI document against the live appliance: schemathesis (in a venv under target/),
## in a network namespace that holds only loopback.
api-contract:
	$(BUILD_BIN)
	VS_BIN=$(CURDIR)/$(BIN_DEBUG) bash scripts/schemathesis.sh

## Timed fault drills (crates/server/tests/faults.rs): each recovery against its bound, in a table.
## --workspace, not -p: the same feature set as the rust-test stage, so nothing is compiled again.
.PHONY: faults
faults:
	$(CARGO) test --workspace --test faults -- --ignored --nocapture --test-threads 1

## Dockerfile/compose checks, the Docker build scripts (native + arm64 cross), systemd unit, install.sh.
packaging-test: ui
	bash tests/packaging/run.sh

e2e/node_modules/.package-lock.json: e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund

e2e: e2e/node_modules/.package-lock.json
	$(BUILD_BIN)
	cd e2e && VS_BIN=$(CURDIR)/$(BIN_DEBUG) npm test

bench: release
	bash bench/api.sh

clean:
	$(CARGO) clean
	rm -rf web/dist web/node_modules e2e/node_modules
