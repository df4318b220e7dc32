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

.PHONY: run test toolchain plugins build check lint bench

toolchain:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

plugins: toolchain
	$(CARGO) build --target wasm32-wasip2 --profile wasm $(addprefix -p ,$(PLUGINS) $(TEST_PLUGINS))
	$(CARGO) build --target wasm32-wasip2 --profile wasm -p weft-probe --features v2 --target-dir target/probe-v2

build: plugins
	$(CARGO) build -p weft

# The demo: the platform simulators (weft-sim) and Weft on the embedded store (./data) with the
# manifests in demo/, which point every adapter at its simulator. Ctrl-C stops both.
run: build
	$(CARGO) build -p weft-tests --bin weft-sim
	./demo/run.sh

# Every test: unit, manifest snapshots, the adapters against their simulators, the CLI.
test: build
	$(CARGO) test --workspace $(addprefix --exclude ,$(PLUGINS) weft-sdk weft-probe weft-hello-http)
	$(CARGO) test $(addprefix -p ,weft-sdk $(PLUGINS)) --lib

lint: plugins
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy --target wasm32-wasip2 $(addprefix -p ,$(PLUGINS) $(TEST_PLUGINS) $(BENCH_PLUGINS)) -- -D warnings

# wasmtime-cli 48, for the comparison with `wasmtime serve` (built once, kept in target/tools).
WASMTIME := target/tools/bin/wasmtime
$(WASMTIME):
	$(CARGO) install wasmtime-cli --version =48.0.8 --locked --root target/tools --target-dir target/tools-build

# Every benchmark; the comparisons write their table into BENCHMARKS.md.
bench: plugins $(WASMTIME)
	$(CARGO) build --target wasm32-wasip2 --profile wasm $(addprefix -p ,$(BENCH_PLUGINS))
	$(CARGO) build --release -p weft
	$(CARGO) bench -p weft --bench invoke
	WEFT_BIN=$(CURDIR)/target/release/weft $(CARGO) bench -p weft-tests --bench reload
	WEFT_BIN=$(CURDIR)/target/release/weft $(CARGO) bench -p weft-tests --bench cluster
	WEFT_BIN=$(CURDIR)/target/release/weft WASMTIME_BIN=$(CURDIR)/$(WASMTIME) $(CARGO) bench -p weft-tests --bench compare
