#!/usr/bin/env bash
# The whole check, as CI runs it: an engine, the local images, formatting, lints, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo "==> $*" >&2; }

step "docker engine"
scripts/ensure-docker.sh
step "test tools"
# Debian's docker-registry serves a real registry on loopback for the pull tests and the
# Kubernetes image push tests (tests/it/kubernetes_registry_docker.rs).
if ! command -v docker-registry >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q docker-registry >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q docker-registry >/dev/null; }
fi
# Debian's chromium and chromium-driver: the `envctl ui` browser tests drive a headless Chromium.
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium chromium-driver >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }
fi
# Debian's JDK compiles the stand-in for a team's Dubbo jar that the dubbo-java tests run
# (tests/fixtures/dubbo-java: no Dubbo jar can be fetched here).
if ! command -v javac >/dev/null 2>&1 || ! command -v jar >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q openjdk-17-jdk-headless >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jdk-headless >/dev/null; }
fi
# PyPI's kubernetes-validate checks the golden Kubernetes manifests against the official
# schemas (tests/it/kubernetes_render_cli.rs). pip reads its own configuration for where to
# fetch from; nothing here names an index.
# Pinned: a newer release may ship other schemas and change what passes.
KUBERNETES_VALIDATE=kubernetes-validate==1.37.0
if [[ "$(python3 -m pip show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p')" != 1.37.0 ]]; then
    # A Debian system Python refuses a plain install (PEP 668); a per-user one is harmless.
    python3 -m pip install -q "$KUBERNETES_VALIDATE" ||
        python3 -m pip install -q --user --break-system-packages "$KUBERNETES_VALIDATE"
fi
step "local images"
scripts/build-images.sh
# build.sh runs them when the image's sources change; here they run on every check.
step "python unit tests (envctl/dubbo-python)"
docker run --rm envctl/dubbo-python:3.0 python3 -m unittest discover -q -p 'test_*.py'
step "remote engine"
# A second dockerd in its own network namespace plays the shared test server for the remote
# engine tests; it goes away (namespace, veth, daemon) however this script ends. Its data root
# stays as an image cache: `scripts/remote-engine.sh purge` removes that too.
trap 'scripts/remote-engine.sh stop' EXIT
scripts/remote-engine.sh start >/dev/null
step "cargo fmt --check"
cargo fmt --all -- --check
step "module cycles"
scripts/module-cycles.py
step "cargo clippy"
cargo clippy --all-targets -- -D warnings
step "cargo test"
cargo test --all-targets
step "all checks passed"
