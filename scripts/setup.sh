#!/usr/bin/env bash
# Installs what building and testing ztpd needs and a fresh Debian machine
# lacks: cmake and the PCRE2 headers (libyang is built from source by the
# yang3 crate), yanglint, iproute2, and a Python virtual environment in
# .venv with the pinned packages of tests/python/requirements.txt
# (ncclient, pytest, pyang).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
[ -f /usr/include/pcre2.h ] || missing+=(libpcre2-dev)
command -v yanglint >/dev/null 2>&1 || missing+=(libyang2-tools)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
# tests/vrf.rs builds its network namespace, veth and VRF devices with `ip`;
# without it those tests skip.
command -v ip >/dev/null 2>&1 || missing+=(iproute2)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # The package lists of a fresh machine can be older than its installed
  # libraries, which makes apt refuse the -dev packages, so update first.
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null 2>&1 || {
  echo "setup: cargo not found; install the Rust toolchain (https://rustup.rs)" >&2
  exit 1
}

requirements=tests/python/requirements.txt
stamp=.venv/.requirements-installed
if [ ! -x .venv/bin/python ] || ! cmp -s "$requirements" "$stamp"; then
  echo "setup: creating the Python environment in .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi
