# The pinned tool versions, sourced by scripts/setup.sh (which installs them) and
# scripts/build-view.sh (which checks them: the shipped View's bytes depend on them).
# shellcheck disable=SC2034

# rustc decides the View's compiled bytes (its wasm32 std is prebuilt per release).
RUST_VERSION=1.95.0
# Must equal the `wasm-bindgen` crate pinned with `=` in Cargo.toml.
WASM_BINDGEN_VERSION=0.2.130
# 0.22 needs a newer rustc than this machine has.
TRUNK_VERSION=0.21.14
WASM_PACK_VERSION=0.15.1
# binaryen (wasm-opt, wasm2js) and esbuild: package-lock.json.
