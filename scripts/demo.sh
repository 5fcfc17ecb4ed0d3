#!/usr/bin/env bash
# Runs ztpd end to end on this machine. It builds ztpd, writes a lab PKI and
# starts a lab bootstrap server and the agent on loopback. An ncclient script
# then configures an SSL policy and a bootstrap server, commits, and prints
# the installed CA certificate's status and fingerprint. Everything stops
# when the script ends, and the files stay in lab/demo for inspection.
#
# Ports: NETCONF on 127.0.0.1:${ZTPD_DEMO_PORT:-8300}, bootstrap server on
# 127.0.0.1:${ZTPD_DEMO_BOOTSTRAP_PORT:-30217}.
set -euo pipefail
cd "$(dirname "$0")/.."

netconf_port="${ZTPD_DEMO_PORT:-8300}"
bootstrap_port="${ZTPD_DEMO_BOOTSTRAP_PORT:-30217}"
esn="2102351931P0K8000001"
lab="lab/demo"

scripts/setup.sh
echo "== building ztpd and the lab tools"
cargo build --locked --bins --examples
bin=target/debug

rm -rf "$lab"
mkdir -p "$lab"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# Waits until file $1 contains the text $2, for at most 30 seconds.
wait_for_line() {
  for _ in $(seq 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: timed out waiting for \"$2\" in $1:" >&2
  cat "$1" >&2
  return 1
}

echo "== lab PKI and client key in $lab"
"$bin/examples/lab_pki" --dir "$lab/pki" --esn "$esn" --server-address 127.0.0.1
.venv/bin/python - "$lab/client_ed25519" <<'PY'
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

key = Ed25519PrivateKey.generate()
path = sys.argv[1]
with open(path, "wb") as private:
    private.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))
with open(path + ".pub", "wb") as public:
    public.write(key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b" demo\n")
PY
chmod 600 "$lab/client_ed25519"

cat > "$lab/ztpd.toml" <<TOML
state-dir = "state"

[netconf]
listen = ["127.0.0.1:$netconf_port"]

[[users]]
name = "admin"
authorized-keys = ["$(cat "$lab/client_ed25519.pub")"]

[device]
esn = "$esn"
initial-certificate = "pki/device.pem"
initial-key = "pki/device.key"

[bootstrap]
trust-anchors = "pki/bootstrap-ca.pem"
TOML

echo "== starting the lab bootstrap server on 127.0.0.1:$bootstrap_port"
"$bin/examples/bootstrap_server" --listen "127.0.0.1:$bootstrap_port" \
  --cert "$lab/pki/server.pem" --key "$lab/pki/server.key" \
  --client-ca "$lab/pki/vendor-ca.pem" --store "$lab/pki/store" \
  >"$lab/bootstrap.out" 2>"$lab/bootstrap.log" &
pids+=($!)
wait_for_line "$lab/bootstrap.out" "listening on"

echo "== starting ztpd on 127.0.0.1:$netconf_port (log: $lab/ztpd.log)"
"$bin/ztpd" --config "$lab/ztpd.toml" 2>"$lab/ztpd.log" &
pids+=($!)
wait_for_line "$lab/ztpd.log" "NETCONF server listening"

echo "== ncclient: configure, commit, wait for the certificate"
.venv/bin/python examples/ncclient_demo.py --port "$netconf_port" --user admin \
  --key "$lab/client_ed25519" --host-key "$lab/state/ssh_host_ed25519_key.pub" \
  --server-address 127.0.0.1 --server-port "$bootstrap_port"

echo "== the lab NCE CA that the bootstrap server handed out, for comparison:"
.venv/bin/python - "$lab/pki/nce-ca.pem" <<'PY'
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes

certificate = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
print("  fingerprint-sha256:", certificate.fingerprint(hashes.SHA256()).hex())
PY
