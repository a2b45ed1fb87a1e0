#!/usr/bin/env bash
# The whole check, as CI runs it: an engine, the local images, formatting, lints, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "==> $*" >&2; }

step "docker engine"
scripts/ensure-docker.sh
step "local images"
scripts/build-images.sh
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --all-targets -- -D warnings
step "cargo test"
cargo test --all-targets
step "all checks passed"
