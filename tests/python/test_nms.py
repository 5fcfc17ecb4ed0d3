"""What an NMS does with ztpd, through the real ncclient: log in, edit the
candidate, commit, poll the download state, and get clear errors for edits
that break the rules."""

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from conftest import (
    NS,
    NS_BASE,
    NS_SSL,
    NS_ZTP,
    config,
    get_config,
    policy,
    server,
    state,
    wait_for_status,
)

ZTP_FILTER = f'<ztp xmlns="{NS_ZTP}"/>'


def configured_servers(session, source):
    data = get_config(session, source, ZTP_FILTER)
    return [
        (entry.findtext("ztp:address", namespaces=NS), entry.findtext("ztp:port", namespaces=NS))
        for entry in data.iterfind(".//ztp:certificate-remote", NS)
    ]


def test_key_login_advertises_capabilities(lab):
    lab.start_daemon()
    with lab.connect() as session:
        capabilities = list(session.server_capabilities)
        assert "urn:ietf:params:netconf:base:1.1" in capabilities
        assert "urn:ietf:params:netconf:capability:candidate:1.0" in capabilities
        assert "urn:ietf:params:netconf:capability:writable-running:1.0" in capabilities
        assert any(uri.startswith(f"{NS_ZTP}?module=ztpd-ztp") for uri in capabilities)
        assert int(session.session_id) > 0


def test_password_login(lab):
    lab.start_daemon()
    with lab.connect(password=True) as session:
        reply = session.get_config(source="running")
        assert reply.ok


def test_candidate_commit_downloads_certificate(lab):
    port = lab.start_bootstrap_server()
    lab.start_daemon()
    with lab.connect() as session:
        session.edit_config(
            target="candidate",
            config=config(policy("ztp_policy"), server("127.0.0.1", port)),
        )
        assert configured_servers(session, "candidate") == [("127.0.0.1", str(port))]
        assert configured_servers(session, "running") == []

        session.commit()
        assert configured_servers(session, "running") == [("127.0.0.1", str(port))]

        current = wait_for_status(session, ("installed", "failed"))
        assert current.findtext("ztp:certificate-status", namespaces=NS) == "installed"
        certificate = current.find("ztp:certificate", NS)
        assert certificate.findtext("ztp:fingerprint-sha256", namespaces=NS) == lab.nce_fingerprint()
        assert certificate.findtext("ztp:file-name", namespaces=NS) == "NCE-bootstrap.pem"
        assert certificate.findtext("ztp:source-address", namespaces=NS) == "127.0.0.1"

        reply = session.get(filter=("subtree", '<pki xmlns="urn:ztpd:yang:ztpd-pki"/>'))
        pki = etree.fromstring(reply.data_xml.encode())
        names = [name.text for name in pki.iterfind(".//pki:domain/pki:certificate/pki:name", NS)]
        assert names == ["NCE-bootstrap.pem"]


def test_failover_from_wrong_echo_to_next_server(lab):
    liar = lab.start_bootstrap_server("127.0.0.2", fault="wrong-echo")
    good = lab.start_bootstrap_server("127.0.0.3")
    lab.start_daemon()
    with lab.connect() as session:
        session.edit_config(
            target="candidate",
            config=config(policy("ztp_policy"), server("127.0.0.2", liar) + server("127.0.0.3", good)),
        )
        session.commit()

        current = wait_for_status(session, ("installed", "failed"))
        assert current.findtext("ztp:certificate-status", namespaces=NS) == "installed"
        assert current.findtext("ztp:certificate/ztp:source-address", namespaces=NS) == "127.0.0.3"
        assert (
            current.findtext("ztp:certificate/ztp:fingerprint-sha256", namespaces=NS)
            == lab.nce_fingerprint()
        )
        servers = current.findall("ztp:server", NS)
        assert [entry.findtext("ztp:address", namespaces=NS) for entry in servers] == [
            "127.0.0.2",
            "127.0.0.3",
        ]
        assert servers[0].findtext("ztp:status", namespaces=NS) == "failed"
        assert servers[0].findtext("ztp:last-error", namespaces=NS) == "identity-mismatch"
        assert servers[1].findtext("ztp:status", namespaces=NS) == "succeeded"


def test_eleventh_server_rejected(lab):
    lab.start_daemon()
    with lab.connect() as session:
        ten = "".join(server(f"127.0.2.{index}", 30217) for index in range(1, 11))
        session.edit_config(target="candidate", config=config(policy("ztp_policy"), ten))
        before = configured_servers(session, "candidate")
        assert len(before) == 10

        with pytest.raises(RPCError) as raised:
            session.edit_config(target="candidate", config=config(servers=server("127.0.2.11", 30217)))
        error = raised.value
        assert error.tag == "operation-failed"
        assert error.type == "application"
        assert "at most 10" in error.message
        assert "127.0.2.11" in error.message
        assert configured_servers(session, "candidate") == before


def test_port_zero_rejected(lab):
    lab.start_daemon()
    with lab.connect() as session:
        with pytest.raises(RPCError) as raised:
            session.edit_config(
                target="running",
                config=config(policy("ztp_policy"), server("127.0.2.1", 0)),
            )
        error = raised.value
        assert error.tag == "invalid-value"
        assert '"0"' in error.message
        assert error.path.endswith("ztpd-ztp:port")
        assert configured_servers(session, "running") == []
        assert configured_servers(session, "candidate") == []


def test_server_needs_policy_bound_to_default(lab):
    lab.start_daemon()
    with lab.connect() as session:
        with pytest.raises(RPCError) as raised:
            session.edit_config(
                target="candidate",
                config=config(policy("other_policy", domain="other"), server("127.0.2.1", 443, "other_policy")),
            )
        assert raised.value.tag == "operation-failed"
        assert "default" in raised.value.message
        assert "other_policy" in raised.value.message


def test_policy_names_stored_in_lower_case(lab):
    lab.start_daemon()
    with lab.connect() as session:
        session.edit_config(
            target="running",
            config=config(policy("ZTP_Policy"), server("127.0.2.1", 443, "Ztp_POLICY")),
        )
        data = get_config(session, "running", f'<ssl xmlns="{NS_SSL}"/>')
        assert [name.text for name in data.iterfind(".//ssl:policy-name", NS)] == ["ztp_policy"]
        data = get_config(session, "running", ZTP_FILTER)
        assert data.findtext(".//ztp:ssl-policy", namespaces=NS) == "ztp_policy"


def test_delete_with_operation_attribute(lab):
    lab.start_daemon()
    with lab.connect() as session:
        session.edit_config(
            target="running",
            config=config(policy("ztp_policy"), server("127.0.2.1", 443) + server("127.0.2.2", 443)),
        )
        delete = (
            f'<config xmlns="{NS_BASE}" xmlns:nc="{NS_BASE}"><ztp xmlns="{NS_ZTP}">'
            '<certificate-remote nc:operation="delete"><address>127.0.2.1</address>'
            "<vpn-instance>_public_</vpn-instance></certificate-remote></ztp></config>"
        )
        session.edit_config(target="running", config=delete)
        assert configured_servers(session, "running") == [("127.0.2.2", "443")]

        with pytest.raises(RPCError) as raised:
            session.edit_config(target="running", config=delete)
        assert raised.value.tag == "data-missing"


def test_lock_edit_discard_unlock(lab):
    lab.start_daemon()
    with lab.connect() as session, lab.connect(password=True) as other:
        session.lock(target="candidate")
        with pytest.raises(RPCError) as raised:
            other.lock(target="candidate")
        assert raised.value.tag == "lock-denied"
        assert raised.value.info is not None and session.session_id in raised.value.info

        session.edit_config(target="candidate", config=config(policy("ztp_policy")))
        session.discard_changes()
        assert get_config(session, "candidate", f'<ssl xmlns="{NS_SSL}"/>').find(".//ssl:ssl-policy", NS) is None
        session.unlock(target="candidate")
        other.lock(target="candidate")


def test_get_without_configuration_reports_absent(lab):
    lab.start_daemon()
    with lab.connect() as session:
        current = state(session)
        assert current.findtext("ztp:certificate-status", namespaces=NS) == "absent"
