#!/usr/bin/env python3
"""Configure a bootstrap server on ztpd with ncclient and wait for the CA
certificate download.

The script does what an NMS does. It creates an SSL policy bound to the
PKI domain "default" and a bootstrap server in the candidate datastore,
and commits. It then reads the operational state until the certificate is
installed or every server failed, and prints the result.

Example:
    ncclient_demo.py --port 8300 --user admin --key lab/client_ed25519 \\
        --host-key lab/state/ssh_host_ed25519_key.pub \\
        --server-address 127.0.0.1 --server-port 30217
"""

import argparse
import sys
import time

from lxml import etree
from ncclient import manager

NS_SSL = "urn:ztpd:yang:ztpd-ssl"
NS_ZTP = "urn:ztpd:yang:ztpd-ztp"
NS = {"ztp": NS_ZTP}

POLL_INTERVAL_SECONDS = 0.5


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="ztpd address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8300, help="ztpd NETCONF port (default 8300)")
    parser.add_argument("--user", default="admin", help="NETCONF user (default admin)")
    parser.add_argument("--key", required=True, help="private key file of the user")
    parser.add_argument(
        "--host-key",
        required=True,
        help="ztpd's SSH host public key file (state-dir/ssh_host_ed25519_key.pub)",
    )
    parser.add_argument("--server-address", required=True, help="bootstrap server address")
    parser.add_argument("--server-port", type=int, required=True, help="bootstrap server port")
    parser.add_argument("--policy", default="ztp_policy", help="SSL policy name (default ztp_policy)")
    parser.add_argument("--verify-type", choices=["ip-address", "esn"], default="ip-address")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for the download (default 60)"
    )
    return parser.parse_args()


def configuration(args):
    return f"""
<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">
  <ssl xmlns="{NS_SSL}">
    <ssl-policies>
      <ssl-policy>
        <policy-name>{args.policy}</policy-name>
        <pki-domain>default</pki-domain>
      </ssl-policy>
    </ssl-policies>
  </ssl>
  <ztp xmlns="{NS_ZTP}">
    <certificate-remote>
      <address>{args.server_address}</address>
      <vpn-instance>_public_</vpn-instance>
      <port>{args.server_port}</port>
      <ssl-policy>{args.policy}</ssl-policy>
      <verify-type>{args.verify_type}</verify-type>
    </certificate-remote>
  </ztp>
</config>"""


def read_state(session):
    state_filter = f'<ztp xmlns="{NS_ZTP}"><certificate-remote-state/></ztp>'
    reply = session.get(filter=("subtree", state_filter))
    root = etree.fromstring(reply.data_xml.encode())
    return root.find(".//ztp:certificate-remote-state", NS)


def text(element, path):
    found = element.find(path, NS) if element is not None else None
    return found.text if found is not None else None


def main():
    args = parse_args()
    with open(args.host_key, encoding="ascii") as host_key_file:
        host_key_b64 = host_key_file.read().split()[1]

    with manager.connect(
        host=args.host,
        port=args.port,
        username=args.user,
        key_filename=args.key,
        hostkey_verify=True,
        hostkey_b64=host_key_b64,
        allow_agent=False,
        look_for_keys=False,
        timeout=30,
    ) as session:
        print(f"connected: NETCONF session {session.session_id}")
        session.edit_config(target="candidate", config=configuration(args))
        session.commit()
        print(
            f"committed: bootstrap server {args.server_address} port {args.server_port}, "
            f"SSL policy {args.policy}, verify-type {args.verify_type}"
        )

        deadline = time.monotonic() + args.timeout
        while True:
            state = read_state(session)
            status = text(state, "ztp:certificate-status")
            if status in ("installed", "failed") or time.monotonic() > deadline:
                break
            time.sleep(POLL_INTERVAL_SECONDS)

        print(f"certificate-status: {status}")
        if status == "installed":
            certificate = state.find("ztp:certificate", NS)
            for leaf in ("file-name", "fingerprint-sha256", "subject", "source-address", "installed-at"):
                print(f"  {leaf}: {text(certificate, 'ztp:' + leaf)}")
            return 0
        for server in state.findall("ztp:server", NS):
            print(
                f"  server {text(server, 'ztp:address')}: {text(server, 'ztp:status')} "
                f"{text(server, 'ztp:last-error') or ''} {text(server, 'ztp:last-error-message') or ''}"
            )
        return 1


if __name__ == "__main__":
    sys.exit(main())
