"""Whole-datastore NETCONF operations through ncclient: copy-config,
delete-config, validate, confirmed commit with persist and cancel-commit,
kill-session, and every edit-config option."""

import time

import pytest
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

from conftest import NS, NS_BASE, NS_ZTP, config, get_config, policy, server

ZTP_FILTER = f'<ztp xmlns="{NS_ZTP}"/>'
CONFIRM_TIMEOUT_SECONDS = 2
ROLLBACK_WAIT_SECONDS = 10


def addresses(session, source):
    data = get_config(session, source, ZTP_FILTER)
    return [element.text for element in data.iterfind(".//ztp:certificate-remote/ztp:address", NS)]


def one_server(address="127.0.2.1"):
    return config(policy("ztp_policy"), server(address, 443))


def test_capabilities_of_datastore_operations(lab):
    lab.start_daemon()
    with lab.connect() as session:
        capabilities = list(session.server_capabilities)
        for uri in (
            "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
            "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
            "urn:ietf:params:netconf:capability:validate:1.1",
            "urn:ietf:params:netconf:capability:startup:1.0",
        ):
            assert uri in capabilities


def test_copy_config_and_delete_config(lab):
    lab.start_daemon()
    with lab.connect() as session:
        session.edit_config(target="candidate", config=one_server())
        session.copy_config(source="candidate", target="running")
        assert addresses(session, "running") == ["127.0.2.1"]

        session.copy_config(source="running", target="startup")
        assert addresses(session, "startup") == ["127.0.2.1"]

        inline = f'<source xmlns="{NS_BASE}">{one_server("127.0.2.9")}</source>'
        session.copy_config(source=inline, target="candidate")
        assert addresses(session, "candidate") == ["127.0.2.9"]

        with pytest.raises(RPCError) as raised:
            session.copy_config(source="running", target="running")
        assert raised.value.tag == "invalid-value"

        session.delete_config(target="startup")
        assert addresses(session, "startup") == []
        with pytest.raises(RPCError) as raised:
            session.delete_config(target="running")
        assert raised.value.tag == "invalid-value"


def test_validate(lab):
    lab.start_daemon()
    with lab.connect() as session:
        session.validate(source="running")
        session.validate(source=to_ele(one_server()))
        with pytest.raises(RPCError) as raised:
            session.validate(source=to_ele(config(servers=server("127.0.2.1", 443))))
        assert raised.value.tag == "data-missing"
        assert raised.value.app_tag == "instance-required"


def test_confirmed_commit_rolls_back_without_confirmation(lab):
    lab.start_daemon()
    with lab.connect() as session:
        session.edit_config(target="candidate", config=one_server())
        session.commit(confirmed=True, timeout=str(CONFIRM_TIMEOUT_SECONDS))
        assert addresses(session, "running") == ["127.0.2.1"]

        deadline = time.monotonic() + ROLLBACK_WAIT_SECONDS
        while addresses(session, "running"):
            assert time.monotonic() < deadline, "confirmed commit not rolled back"
            time.sleep(0.2)
        assert addresses(session, "candidate") == []


def test_persistent_confirmed_commit_across_sessions(lab):
    lab.start_daemon()
    with lab.connect() as first:
        first.edit_config(target="candidate", config=one_server())
        first.commit(confirmed=True, timeout="60", persist="token-7")
    # The persistent confirmed commit outlives the session that made it.
    with lab.connect(password=True) as second:
        assert addresses(second, "running") == ["127.0.2.1"]
        with pytest.raises(RPCError) as raised:
            second.commit(persist_id="wrong")
        assert raised.value.tag == "invalid-value"
        second.commit(persist_id="token-7")
        assert addresses(second, "running") == ["127.0.2.1"]


def test_cancel_commit_restores_running(lab):
    lab.start_daemon()
    with lab.connect() as session:
        session.edit_config(target="candidate", config=one_server())
        session.commit(confirmed=True, timeout="60", persist="p1")
        with pytest.raises(RPCError) as raised:
            session.cancel_commit()
        assert raised.value.tag == "in-use"
        session.cancel_commit(persist_id="p1")
        assert addresses(session, "running") == []
        with pytest.raises(RPCError) as raised:
            session.cancel_commit()
        assert raised.value.tag == "operation-failed"


def test_kill_session_releases_its_lock(lab):
    lab.start_daemon()
    victim = lab.connect()
    with lab.connect(password=True) as killer:
        victim.lock(target="running")
        with pytest.raises(RPCError) as raised:
            killer.lock(target="running")
        assert raised.value.tag == "lock-denied"

        killer.kill_session(session_id=victim.session_id)
        killer.lock(target="running")
        killer.unlock(target="running")

        deadline = time.monotonic() + ROLLBACK_WAIT_SECONDS
        while victim.connected:
            assert time.monotonic() < deadline, "the killed session stayed connected"
            time.sleep(0.2)


def test_edit_config_options(lab):
    lab.start_daemon()
    with lab.connect() as session:
        session.edit_config(target="candidate", config=one_server(), test_option="test-only")
        assert addresses(session, "candidate") == []

        session.edit_config(target="candidate", config=one_server(), test_option="test-then-set")
        assert addresses(session, "candidate") == ["127.0.2.1"]

        create_existing = (
            f'<config xmlns="{NS_BASE}" xmlns:nc="{NS_BASE}"><ztp xmlns="{NS_ZTP}">'
            '<certificate-remote nc:operation="create"><address>127.0.2.1</address>'
            "<vpn-instance>_public_</vpn-instance><port>1</port><ssl-policy>ztp_policy</ssl-policy>"
            "</certificate-remote>"
            "<certificate-remote><address>127.0.2.2</address><vpn-instance>_public_</vpn-instance>"
            "<port>2</port><ssl-policy>ztp_policy</ssl-policy></certificate-remote></ztp></config>"
        )
        with pytest.raises(RPCError) as raised:
            session.edit_config(target="candidate", config=create_existing, error_option="rollback-on-error")
        assert raised.value.tag == "data-exists"
        assert addresses(session, "candidate") == ["127.0.2.1"]

        with pytest.raises(RPCError) as raised:
            session.edit_config(target="candidate", config=create_existing, error_option="continue-on-error")
        assert raised.value.tag == "data-exists"
        assert addresses(session, "candidate") == ["127.0.2.1", "127.0.2.2"]

        session.edit_config(target="candidate", config=one_server("127.0.2.3"), default_operation="replace")
        assert addresses(session, "candidate") == ["127.0.2.3"]
        session.discard_changes()
        assert addresses(session, "candidate") == []
