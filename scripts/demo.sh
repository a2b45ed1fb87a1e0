#!/usr/bin/env bash
# The main job: bring up the shipped demo environment (project-a, the shop) on this machine.
# Starts (or installs) the Docker engine, builds the local images it needs (no registry is
# reachable), builds envctl, runs `envctl up project-a`, then shows where everything is.
#   scripts/demo.sh                     # the shared instance
#   scripts/demo.sh --feature pay-v2    # an isolated copy for one feature branch
# Tear down with: target/release/envctl down project-a [--feature F]
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "==> $*" >&2; }

command -v cargo >/dev/null 2>&1 || {
    echo "demo: cargo is missing; install a Rust toolchain (https://rustup.rs) and retry" >&2
    exit 1
}
step "docker engine"
scripts/ensure-docker.sh
step "local images"
scripts/build-images.sh zookeeper redis memcached mariadb nginx dubbo-python
step "envctl (release build)"
cargo build --release --quiet --bin envctl
step "envctl up project-a $*"
target/release/envctl up project-a "$@"
step "endpoints"
target/release/envctl endpoints project-a "$@"
