"""Fixtures of the ncclient test suite: a lab PKI, lab bootstrap servers and
the ztpd daemon, all real processes on loopback addresses.

The binaries come from ZTPD_TARGET_DIR (default: target/debug of the
checkout), which scripts/test.sh builds first.
"""

import json
import os
import pathlib
import subprocess
import threading
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography import x509
from lxml import etree
from ncclient import manager

REPO = pathlib.Path(__file__).resolve().parents[2]
TARGET_DIR = pathlib.Path(os.environ.get("ZTPD_TARGET_DIR", REPO / "target" / "debug"))
ESN = "2102351931P0K8000001"
USER = "admin"
PASSWORD = "ncclient test password"

NS_BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS_SSL = "urn:ztpd:yang:ztpd-ssl"
NS_ZTP = "urn:ztpd:yang:ztpd-ztp"
NS_PKI = "urn:ztpd:yang:ztpd-pki"
NS = {"nc": NS_BASE, "ssl": NS_SSL, "ztp": NS_ZTP, "pki": NS_PKI}

# Loopback addresses that the lab server certificate names, so each can
# stand for a different bootstrap server.
SERVER_ADDRESSES = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]

STARTUP_TIMEOUT_SECONDS = 30
DOWNLOAD_TIMEOUT_SECONDS = 30
POLL_INTERVAL_SECONDS = 0.2


def binary(name):
    path = TARGET_DIR / name
    if not path.exists():
        pytest.fail(f"{path} is missing; build it with `cargo build --bins --examples`")
    return str(path)


class Process:
    """A child process whose output lines are collected by a thread."""

    def __init__(self, args, stream):
        self.popen = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = []
        self.stderr_lines = []
        self._condition = threading.Condition()
        watched = self.popen.stdout if stream == "stdout" else self.popen.stderr
        threading.Thread(target=self._collect, args=(watched, self.lines), daemon=True).start()
        if stream == "stdout":
            threading.Thread(
                target=self._collect, args=(self.popen.stderr, self.stderr_lines), daemon=True
            ).start()

    def _collect(self, pipe, sink):
        for line in pipe:
            with self._condition:
                sink.append(line.rstrip("\n"))
                self._condition.notify_all()

    def wait_for(self, predicate, event):
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with self._condition:
            while True:
                for line in self.lines:
                    found = predicate(line)
                    if found:
                        return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.popen.poll() is not None:
                    output = "\n".join(self.lines + self.stderr_lines)
                    raise AssertionError(f"{event} did not happen; output:\n{output}")
                self._condition.wait(min(remaining, 0.5))

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


class Lab:
    """Lab PKI, client key, configuration and processes of one test."""

    def __init__(self, directory):
        self.dir = directory
        self.pki = directory / "pki"
        self.state = directory / "state"
        self.processes = []

        subprocess.run(
            [binary("examples/lab_pki"), "--dir", str(self.pki), "--esn", ESN]
            + [arg for address in SERVER_ADDRESSES for arg in ("--server-address", address)],
            check=True,
            capture_output=True,
        )

        key = Ed25519PrivateKey.generate()
        self.client_key = directory / "client_ed25519"
        self.client_key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
        )
        self.client_key.chmod(0o600)
        self.client_public_key = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()

        self.password_hash = subprocess.run(
            [binary("ztpd"), "hash-password"],
            input=PASSWORD,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        self.address = None

    def nce_fingerprint(self):
        certificate = x509.load_pem_x509_certificate((self.pki / "nce-ca.pem").read_bytes())
        return certificate.fingerprint(hashes.SHA256()).hex()

    def start_bootstrap_server(self, address="127.0.0.1", fault=None):
        """Starts the example bootstrap server; returns its port."""
        args = [
            binary("examples/bootstrap_server"),
            "--listen", f"{address}:0",
            "--cert", str(self.pki / "server.pem"),
            "--key", str(self.pki / "server.key"),
            "--client-ca", str(self.pki / "vendor-ca.pem"),
            "--store", str(self.pki / "store"),
        ]
        if fault:
            args += ["--fault", fault]
        process = Process(args, "stdout")
        self.processes.append(process)
        listening = process.wait_for(
            lambda line: line.startswith("listening on ") and line, "bootstrap server start"
        )
        return int(listening.rsplit(":", 1)[1])

    def start_daemon(self):
        config = self.dir / "ztpd.toml"
        config.write_text(
            f"""state-dir = "{self.state}"

[log]
level = "info,ztpd=debug"

[netconf]
listen = ["127.0.0.1:0"]

[[users]]
name = "{USER}"
password-hash = "{self.password_hash}"
authorized-keys = ["{self.client_public_key}"]

[device]
esn = "{ESN}"
initial-certificate = "{self.pki / 'device.pem'}"
initial-key = "{self.pki / 'device.key'}"

[bootstrap]
trust-anchors = "{self.pki / 'bootstrap-ca.pem'}"
connect-timeout-secs = 2
request-timeout-secs = 3
"""
        )
        self.daemon = Process([binary("ztpd"), "--config", str(config), "--log-format", "json"], "stderr")
        self.processes.append(self.daemon)

        def listening(line):
            try:
                event = json.loads(line)
            except ValueError:
                return None
            if event.get("message") == "NETCONF server listening":
                return event["address"]
            return None

        address = self.daemon.wait_for(listening, "ztpd start")
        host, port = address.rsplit(":", 1)
        self.address = (host, int(port))
        return self.address

    def host_key_b64(self):
        return (self.state / "ssh_host_ed25519_key.pub").read_text().split()[1]

    def connect(self, password=False, **options):
        host, port = self.address
        credentials = (
            {"password": PASSWORD}
            if password
            else {"key_filename": str(self.client_key)}
        )
        return manager.connect(
            host=host,
            port=port,
            username=USER,
            hostkey_verify=True,
            hostkey_b64=self.host_key_b64(),
            allow_agent=False,
            look_for_keys=False,
            timeout=30,
            **credentials,
            **options,
        )

    def stop(self):
        for process in reversed(self.processes):
            process.stop()


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path)
    yield lab
    lab.stop()


def config(policies="", servers=""):
    """A <config> element with SSL policies and bootstrap servers."""
    ssl = f'<ssl xmlns="{NS_SSL}"><ssl-policies>{policies}</ssl-policies></ssl>' if policies else ""
    ztp = f'<ztp xmlns="{NS_ZTP}">{servers}</ztp>' if servers else ""
    return f'<config xmlns="{NS_BASE}">{ssl}{ztp}</config>'


def policy(name, domain="default"):
    return f"<ssl-policy><policy-name>{name}</policy-name><pki-domain>{domain}</pki-domain></ssl-policy>"


def server(address, port, policy_name="ztp_policy", verify_type=None, vpn="_public_"):
    verify = f"<verify-type>{verify_type}</verify-type>" if verify_type else ""
    return (
        f"<certificate-remote><address>{address}</address><vpn-instance>{vpn}</vpn-instance>"
        f"<port>{port}</port><ssl-policy>{policy_name}</ssl-policy>{verify}</certificate-remote>"
    )


def state(session):
    """The certificate-remote-state container of a get."""
    reply = session.get(filter=("subtree", f'<ztp xmlns="{NS_ZTP}"><certificate-remote-state/></ztp>'))
    root = etree.fromstring(reply.data_xml.encode())
    return root.find(".//ztp:certificate-remote-state", NS)


def wait_for_status(session, expected):
    deadline = time.monotonic() + DOWNLOAD_TIMEOUT_SECONDS
    while True:
        current = state(session)
        status = current.findtext("ztp:certificate-status", namespaces=NS)
        if status in expected:
            return current
        assert time.monotonic() < deadline, f"certificate-status stayed {status}, expected {expected}"
        time.sleep(POLL_INTERVAL_SECONDS)


def get_config(session, source, subtree):
    reply = session.get_config(source=source, filter=("subtree", subtree))
    return etree.fromstring(reply.data_xml.encode())
