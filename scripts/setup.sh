#!/usr/bin/env bash
# Installs the tools the View's build and the tests need, on a fresh machine of this kind.
# Running the server needs none of them (the View ships built): scripts/run.sh does not call this.
#
#   scripts/setup.sh          everything the tests need (scripts/test.sh runs it)
#   scripts/setup.sh --view   only what building the View needs (scripts/view-dev.sh runs it)
#
# Idempotent: each step checks what is present (and its version) and skips it when it fits,
# so a second run takes seconds. Each step prints what it does, because a cold run takes
# about twenty minutes on two cores and silence looks like a hang.
#
# Versions are pinned on purpose (see ARCHITECTURE.md, "Toolchain"):
#   - wasm-bindgen-cli must equal the `wasm-bindgen` crate pinned in Cargo.toml;
#   - trunk 0.22 needs a newer rustc than this machine has;
#   - Debian's binaryen (wasm-opt 108) corrupts modules that use reference types, so
#     wasm-opt comes from npm's `binaryen` package instead.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

case "${1:-}" in
  "") only_view=false ;;
  --view) only_view=true ;;
  *) echo "usage: scripts/setup.sh [--view]" >&2; exit 2 ;;
esac

source scripts/lib/versions.sh

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
skip() { printf '    %s\n' "$*" >&2; }

# `sudo` only where we are not root already (CI and these machines run as root).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

version_of() { "$1" --version 2>/dev/null | head -n1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true; }

install_crate() { # name binary version [extra cargo-install flags]
  local name=$1 bin=$2 version=$3; shift 3
  local have
  have=$(command -v "$bin" >/dev/null 2>&1 && version_of "$bin" || true)
  if [ "$have" = "$version" ]; then
    skip "$name $version present"
    return
  fi
  step "Installing $name $version (had: ${have:-none}); a cold build takes several minutes"
  cargo install "$name" --version "$version" "$@"
}

step "Rust target wasm32-unknown-unknown"
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  skip "present"
else
  rustup target add wasm32-unknown-unknown
fi

# The shipped View is built by exactly this Rust (build-view.sh selects it when the default
# toolchain is another one).
step "Rust $RUST_VERSION for the View's build"
if rustc --version | grep -q "^rustc $RUST_VERSION "; then
  skip "the default toolchain"
else
  rustup run "$RUST_VERSION" rustc --version >/dev/null 2>&1 ||
    rustup toolchain install "$RUST_VERSION" --profile minimal
  rustup target list --installed --toolchain "$RUST_VERSION" | grep -qx wasm32-unknown-unknown ||
    rustup target add --toolchain "$RUST_VERSION" wasm32-unknown-unknown
fi

# build-view.sh rebuilds the standard library for the View (its panic strategy): it needs the
# sources of exactly that Rust.
step "Rust $RUST_VERSION standard library sources (rust-src)"
if rustc --version | grep -q "^rustc $RUST_VERSION "; then view_toolchain=(); else view_toolchain=(--toolchain "$RUST_VERSION"); fi
if rustup component list --installed "${view_toolchain[@]}" | grep -q '^rust-src'; then
  skip "present"
else
  rustup component add rust-src "${view_toolchain[@]}"
fi

step "Rust components rustfmt, clippy"
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

# Without --locked: wasm-bindgen-cli's own lockfile pins a crate version the registry lacks.
install_crate wasm-bindgen-cli wasm-bindgen "$WASM_BINDGEN_VERSION"
install_crate trunk trunk "$TRUNK_VERSION" --locked

# What only the tests need: the View's browser tests, the end-to-end suite's browser, and the
# Redis store's tests (redis-server, and nginx in front of two instances).
install_test_tools() {
  install_crate wasm-pack wasm-pack "$WASM_PACK_VERSION" --locked

  step "Chromium and ChromeDriver (Debian packages)"
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    skip "$(/usr/bin/chromium --version 2>/dev/null | head -n1)"
  else
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver
  fi

  step "Redis server (Debian package; the Redis store's tests start their own instances)"
  if command -v redis-server >/dev/null 2>&1; then
    skip "$(redis-server --version 2>/dev/null | head -n1)"
  else
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server
  fi

  step "nginx (Debian package; the instance-kill test starts its own in front of two instances)"
  if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    skip "$( (nginx -v || /usr/sbin/nginx -v) 2>&1 | head -n1)"
  else
    as_root apt-get update -qq
    # Installed, not started: the package's own service is refused where there is no init.
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nginx
  fi
}
[ "$only_view" = true ] || install_test_tools

step "npm tools (binaryen's wasm-opt, esbuild, playwright-core) from package-lock.json"
if [ -f package-lock.json ]; then
  # `npm ci` wipes node_modules: only run it when the lock file changed since the last install.
  stamp=node_modules/.installed-lock
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
    skip "node_modules matches package-lock.json"
  else
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
  fi
fi

# The official tools that check the server as an MCP server author would (tests only): the
# conformance suite, the MCP Inspector's CLI and Node 22 to run them (a package carrying the
# binary, beside the system Node), and the official Python SDK client in a virtual environment.
install_protocol_tools() {
  step "Conformance suite, MCP Inspector and Node 22 (tools/protocol-check/package-lock.json)"
  local stamp=tools/protocol-check/node_modules/.installed-lock
  if [ -f "$stamp" ] && cmp -s tools/protocol-check/package-lock.json "$stamp"; then
    skip "tools/protocol-check/node_modules matches its lock file"
  else
    (cd tools/protocol-check && npm ci --no-audit --no-fund --loglevel=error)
    cp tools/protocol-check/package-lock.json "$stamp"
  fi

  step "The official Python SDK client (tools/python-interop/requirements.txt)"
  local venv=tools/python-interop/.venv
  stamp=$venv/.installed-requirements
  if [ -f "$stamp" ] && cmp -s tools/python-interop/requirements.txt "$stamp"; then
    skip "$venv matches requirements.txt"
  else
    if ! python3 -m venv --help >/dev/null 2>&1; then
      as_root apt-get update -qq
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tools/python-interop/requirements.txt
    cp tools/python-interop/requirements.txt "$stamp"
  fi
}
[ "$only_view" = true ] || install_protocol_tools

step "Fetching crates (trunk builds offline)"
cargo fetch --locked 2>/dev/null || cargo fetch

step "Setup complete"
