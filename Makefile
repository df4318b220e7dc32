# Weft's entry points. `make run` and `make test` work on a fresh machine: they install the
# wasm32-wasip2 target themselves and build the adapters before anything needs them.

CARGO ?= cargo
# Adapter crates built as components: every plugins/NAME but the SDK, found by glob (so that
# `weft new adapter` needs no edit here), and the test adapters (tests/).
PLUGINS := $(patsubst plugins/%/Cargo.toml,weft-%,$(filter-out plugins/sdk/Cargo.toml,$(sort $(wildcard plugins/*/Cargo.toml))))
TEST_PLUGINS := weft-probe
# Built for the benchmarks only: a hello wasi:http component for `wasmtime serve`.
BENCH_PLUGINS := weft-hello-http
WASM_DIR := target/wasm32-wasip2/wasm
# The host's crates (weft, weft-tests with the simulators), built together as `make test` builds
# them: cargo unifies a dependency's features over the crates of one build, so `cargo build -p
# weft` alone would compile wasmtime and 70 other crates a second time, with other features,
# right after `make test` (5 min 50 s on 2 cores).
HOST := --workspace $(addprefix --exclude ,$(PLUGINS) weft-sdk weft-probe weft-hello-http)

# Adapters in TypeScript and Python, found by glob as the Rust ones are:
# plugins/typescript/NAME/adapter.ts becomes weft_ts_NAME.wasm, plugins/python/NAME/adapter.py
# weft_py_NAME.wasm. Their tools are pinned by the SDKs' own files and installed under
# sdk/typescript/node_modules and target/tools/py the first time they are needed.
TS_ADAPTERS := $(patsubst plugins/typescript/%/adapter.ts,$(WASM_DIR)/weft_ts_%.wasm,$(sort $(wildcard plugins/typescript/*/adapter.ts)))
PY_ADAPTERS := $(patsubst plugins/python/%/adapter.py,$(WASM_DIR)/weft_py_%.wasm,$(sort $(wildcard plugins/python/*/adapter.py)))
TS_TOOLS := sdk/typescript/node_modules/.weft-installed
COMPONENTIZE_PY := target/tools/py/bin/componentize-py

.PHONY: run test toolchain plugins build check lint bench browser wrk doc deploy-tools dist sdk-test

# An adapter is rebuilt when its own files, its SDK's or the WIT change.
.SECONDEXPANSION:

toolchain:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

plugins: toolchain $(TS_ADAPTERS) $(PY_ADAPTERS)
	$(CARGO) build --target wasm32-wasip2 --profile wasm $(addprefix -p ,$(PLUGINS) $(TEST_PLUGINS))
	$(CARGO) build --target wasm32-wasip2 --profile wasm -p weft-probe --features v2 --target-dir target/probe-v2

$(TS_TOOLS): sdk/typescript/package.json sdk/typescript/package-lock.json
	cd sdk/typescript && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(COMPONENTIZE_PY): sdk/python/requirements.txt
	python3 -m venv target/tools/py
	target/tools/py/bin/pip install -q -r sdk/python/requirements.txt
	touch $@

$(WASM_DIR)/weft_ts_%.wasm: $(TS_TOOLS) wit/adapter.wit sdk/typescript/build.mjs $$(wildcard sdk/typescript/src/*.ts plugins/typescript/$$*/*.ts)
	node sdk/typescript/build.mjs plugins/typescript/$* $@

$(WASM_DIR)/weft_py_%.wasm: $(COMPONENTIZE_PY) wit/adapter.wit $$(wildcard sdk/python/weft_sdk/*.py plugins/python/$$*/*.py)
	@mkdir -p $(WASM_DIR)
	$(COMPONENTIZE_PY) -d wit -w adapter-world componentize -p plugins/python/$* -p sdk/python adapter -o $@

build: plugins
	$(CARGO) build $(HOST)

# The demo: the platform simulators (weft-sim) and Weft on the embedded store (./data) with the
# manifests in demo/, which point every adapter at its simulator. Ctrl-C stops both.
run: build
	./demo/run.sh

# Debian's Chromium and ChromeDriver, for the console's browser tests: installed when missing,
# as root or with password-less sudo. Where neither works the tests say so loudly and skip, except
# under .ci/run (WEFT_REQUIRE_BROWSER=1), where a missing browser fails them.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "!!! no apt-get here: install Chromium and ChromeDriver for the console's browser tests"; \
	else \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  echo "installing Debian's chromium and chromium-driver (the console's browser tests)"; \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null ) \
	    || echo "!!! chromium and chromium-driver could not be installed: the console's browser tests will be skipped"; \
	fi

# The tools that check what deploy/ ships: promtool (Debian's prometheus package) for the alert
# rules, systemd-analyze for the unit, installed when missing as `browser` does.
# And kubernetes-validate (PyPI, with the API schemas inside: no cluster needed) for deploy/kubernetes.
KUBE_VALIDATE := target/tools/kv/bin/kubernetes-validate
$(KUBE_VALIDATE):
	python3 -m venv target/tools/kv
	target/tools/kv/bin/pip install -q kubernetes-validate==1.37.0

deploy-tools: $(KUBE_VALIDATE)
	@missing=; command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  echo "installing Debian's$$missing (the checks of deploy/)"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Every test: unit, manifest snapshots, the adapters against their simulators, the CLI, the
# console in a browser. `cargo test` builds the `weft` binary the tests run itself, from the
# same crates as `build` (HOST): one compile serves both, in either order.
test: plugins browser deploy-tools sdk-test
	$(CARGO) test $(HOST)
	$(CARGO) test $(addprefix -p ,weft-sdk $(PLUGINS)) --lib

# The TypeScript and Python SDKs' own helpers, under Node and CPython (the Python tests against
# the WIT's types as componentize-py generates them); the adapters' fixtures and scenarios test
# what crosses into the host.
sdk-test: $(COMPONENTIZE_PY) $(TS_TOOLS)
	rm -rf target/py-bindings
	$(COMPONENTIZE_PY) -d wit -w adapter-world bindings target/py-bindings
	PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=target/py-bindings:sdk/python python3 -m unittest discover -s sdk/python/tests
	node sdk/typescript/test.mjs

# The SDK's reference for adapter authors (docs/writing-an-adapter.md links it):
# target/doc/weft_sdk/index.html. Documented for the host target: the WIT bindings are the same.
doc:
	$(CARGO) doc -p weft-sdk --no-deps

lint: plugins
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --target wasm32-wasip2 $(addprefix -p ,$(PLUGINS) $(TEST_PLUGINS) $(BENCH_PLUGINS)) -- -D warnings

# The release tarball and the OCI image, in target/dist (deploy/dist.py: no registry, no container
# daemon). DIST_PROFILE=dev packs the debug build instead, as tests/tests/deploy.rs does.
DIST_PROFILE ?= release
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
dist: plugins
	$(CARGO) build --profile $(DIST_PROFILE) $(HOST)
	python3 deploy/dist.py target/$(if $(filter dev,$(DIST_PROFILE)),debug,$(DIST_PROFILE))/weft $(WASM_DIR) $(VERSION) target/dist

# wasmtime-cli 48, for the comparison with `wasmtime serve` (built once, kept in target/tools).
WASMTIME := target/tools/bin/wasmtime
$(WASMTIME):
	$(CARGO) install wasmtime-cli --version =48.0.8 --locked --root target/tools --target-dir target/tools-build

# wrk, the load generator of the front-door comparison (Debian's package), installed when missing.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  echo "installing Debian's wrk (the benchmarks' load generator)"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }

# Every benchmark; the comparisons write their table into BENCHMARKS.md.
bench: plugins wrk $(WASMTIME)
	$(CARGO) build --target wasm32-wasip2 --profile wasm $(addprefix -p ,$(BENCH_PLUGINS))
	$(CARGO) build --release -p weft
	$(CARGO) bench -p weft --bench invoke
	WEFT_BIN=$(CURDIR)/target/release/weft $(CARGO) bench -p weft-tests --bench reload
	WEFT_BIN=$(CURDIR)/target/release/weft $(CARGO) bench -p weft-tests --bench cluster
	WEFT_BIN=$(CURDIR)/target/release/weft $(CARGO) bench -p weft-tests --bench jobs
	WEFT_BIN=$(CURDIR)/target/release/weft $(CARGO) bench -p weft-tests --bench fairness
	WEFT_BIN=$(CURDIR)/target/release/weft $(CARGO) bench -p weft-tests --bench footprint
	$(CARGO) bench -p weft-tests --bench languages
	WEFT_BIN=$(CURDIR)/target/release/weft WASMTIME_BIN=$(CURDIR)/$(WASMTIME) $(CARGO) bench -p weft-tests --bench compare
