#!/usr/bin/env bash
# Runs every check and test of ztpd: YANG module checks (pyang --strict and
# yanglint), formatting and clippy, the Rust unit and integration tests, and
# the ncclient test suite against the real daemon. Everything listens on
# loopback addresses only.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

echo "== YANG modules"
.venv/bin/pyang --strict -p yang/ietf yang/*.yang
yanglint -p yang/ietf yang/*.yang

echo "== formatting and lints"
cargo fmt --all --check
cargo clippy --locked --all-targets -- -D warnings

echo "== Rust tests"
cargo test --locked

echo "== ncclient tests"
cargo build --locked --bins --examples
ZTPD_TARGET_DIR="$(pwd)/target/debug" .venv/bin/python -m pytest -q tests/python
