"""Monitoring, with-defaults and NMDA through the real ncclient: get-schema
of every advertised module, netconf-state, the with-defaults retrieval
modes, and get-data and edit-data sent with dispatch."""

import pathlib
import sys

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from conftest import (
    NS,
    NS_BASE,
    NS_ZTP,
    REPO,
    config,
    policy,
    server,
    wait_for_status,
)

NS_MONITORING = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NS_NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
NS_DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
NS_DEFAULT = "urn:ietf:params:xml:ns:netconf:default:1.0"
NS_YANG_LIBRARY = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
MON = {"ncm": NS_MONITORING}
WITH_DEFAULTS_CAPABILITY = (
    "urn:ietf:params:netconf:capability:with-defaults:1.0"
    "?basic-mode=explicit&also-supported=report-all,report-all-tagged,trim"
)
# The IETF modules as the pinned pyang distribution ships them.
PYANG_IETF_MODULES = pathlib.Path(sys.prefix) / "share" / "yang" / "modules" / "ietf"
SERVER_FILTER = f'<ztp xmlns="{NS_ZTP}"><certificate-remote/></ztp>'


def advertised_modules(session):
    """(name, revision) of every module capability of the server hello."""
    modules = []
    for uri in session.server_capabilities:
        capability = session.server_capabilities[uri]
        name = capability.parameters.get("module")
        if name:
            modules.append((name, capability.parameters.get("revision")))
    return modules


def module_file(name):
    """The module's text under yang/, or None for libyang's own module
    `yang`, which has no published text."""
    for path in (REPO / "yang" / f"{name}.yang", REPO / "yang" / "ietf" / f"{name}.yang"):
        if path.exists():
            return path.read_text()
    assert name == "yang", f"no file for module {name} under yang/"
    return None


def netconf_state(session, subtree=""):
    reply = session.get(filter=("subtree", f'<netconf-state xmlns="{NS_MONITORING}">{subtree}</netconf-state>'))
    root = etree.fromstring(reply.data_xml.encode())
    return root.find("ncm:netconf-state", MON)


def own_session(state, session_id):
    for entry in state.iterfind("ncm:sessions/ncm:session", MON):
        if entry.findtext("ncm:session-id", namespaces=MON) == session_id:
            return entry
    raise AssertionError(f"session {session_id} not in netconf-state")


def verify_type(data, address):
    for entry in data.iterfind(".//ztp:certificate-remote", NS):
        if entry.findtext("ztp:address", namespaces=NS) == address:
            return entry.find("ztp:verify-type", NS)
    raise AssertionError(f"no entry for {address}")


def nmda_element(operation, datastore):
    element = etree.Element(f"{{{NS_NMDA}}}{operation}", nsmap={"ds": NS_DS})
    etree.SubElement(element, f"{{{NS_NMDA}}}datastore").text = f"ds:{datastore}"
    return element


def get_data(session, datastore, subtree=None):
    request = nmda_element("get-data", datastore)
    if subtree is not None:
        etree.SubElement(request, f"{{{NS_NMDA}}}subtree-filter").append(etree.fromstring(subtree))
    reply = session.dispatch(request)
    root = etree.fromstring(reply.xml.encode())
    assert root.find(f"{{{NS_BASE}}}data") is None, "data must be in the NMDA namespace"
    data = root.find(f"{{{NS_NMDA}}}data")
    assert data is not None, reply.xml
    return data


def edit_data(session, datastore, content):
    request = nmda_element("edit-data", datastore)
    config_element = etree.SubElement(request, f"{{{NS_NMDA}}}config")
    for element in etree.fromstring(content):
        config_element.append(element)
    return session.dispatch(request)


def addresses(data):
    return [entry.findtext("ztp:address", namespaces=NS) for entry in data.iterfind(".//ztp:certificate-remote", NS)]


def test_get_schema_of_every_advertised_module(lab):
    lab.start_daemon()
    with lab.connect() as session:
        modules = advertised_modules(session)
        names = [name for name, _ in modules]
        for expected in ("ztpd-ztp", "ietf-netconf-monitoring", "ietf-netconf-nmda", "ietf-yang-library"):
            assert expected in names
        for name, revision in modules:
            text = session.get_schema(name).data
            expected = module_file(name)
            if expected is None:
                assert text.startswith(f"module {name} "), name
            else:
                assert text == expected, name
            assert session.get_schema(name, version=revision, format="yang").data == text
            if name.startswith("ietf-"):
                assert text == (PYANG_IETF_MODULES / f"{name}.yang").read_text(), name

        yin = session.get_schema("ztpd-ztp", format="yin").data
        assert '<module name="ztpd-ztp"' in yin


def test_get_schema_errors(lab):
    lab.start_daemon()
    with lab.connect() as session:
        with pytest.raises(RPCError) as raised:
            session.get_schema("no-such-module")
        assert raised.value.tag == "invalid-value"
        assert "no-such-module" in raised.value.message

        with pytest.raises(RPCError) as raised:
            session.get_schema("ztpd-ztp", version="1999-01-01")
        assert raised.value.tag == "invalid-value"
        assert "1999-01-01" in raised.value.message


def test_netconf_state_shows_session_and_counters(lab):
    lab.start_daemon()
    with lab.connect() as session:
        state = netconf_state(session)
        capabilities = [item.text for item in state.iterfind("ncm:capabilities/ncm:capability", MON)]
        assert WITH_DEFAULTS_CAPABILITY in capabilities
        assert sorted(capabilities) == sorted(session.server_capabilities)
        assert state.findtext("ncm:statistics/ncm:netconf-start-time", namespaces=MON)

        entry = own_session(state, session.session_id)
        assert entry.findtext("ncm:username", namespaces=MON) == "admin"
        assert entry.findtext("ncm:source-host", namespaces=MON) == "127.0.0.1"
        before = int(entry.findtext("ncm:in-rpcs", namespaces=MON))

        session.get_config(source="running")
        session.get_config(source="candidate")
        entry = own_session(netconf_state(session, "<sessions/>"), session.session_id)
        assert int(entry.findtext("ncm:in-rpcs", namespaces=MON)) == before + 3


def test_locks_visible_while_held(lab):
    lab.start_daemon()
    with lab.connect() as session, lab.connect(password=True) as other:
        session.lock(target="running")
        state = netconf_state(other, "<datastores/>")
        running = state.find("ncm:datastores/ncm:datastore[ncm:name='running']", MON)
        lock = running.find("ncm:locks/ncm:global-lock", MON)
        assert lock is not None
        assert lock.findtext("ncm:locked-by-session", namespaces=MON) == session.session_id
        assert lock.findtext("ncm:locked-time", namespaces=MON)
        candidate = state.find("ncm:datastores/ncm:datastore[ncm:name='candidate']", MON)
        assert candidate.find("ncm:locks", MON) is None

        session.unlock(target="running")
        state = netconf_state(other, "<datastores/>")
        assert state.find(".//ncm:global-lock", MON) is None


@pytest.mark.parametrize("operation", ["get_config", "get"])
def test_with_defaults_modes(lab, operation):
    lab.start_daemon()
    with lab.connect() as session:
        session.edit_config(
            target="running",
            config=config(policy("ztp_policy"), server("127.0.2.1", 443) + server("127.0.2.2", 443, verify_type="ip-address")),
        )

        def read(mode):
            if operation == "get_config":
                reply = session.get_config(source="running", filter=("subtree", SERVER_FILTER), with_defaults=mode)
            else:
                reply = session.get(filter=("subtree", SERVER_FILTER), with_defaults=mode)
            return etree.fromstring(reply.data_xml.encode())

        explicit = read("explicit")
        assert verify_type(explicit, "127.0.2.1") is None
        assert verify_type(explicit, "127.0.2.2").text == "ip-address"

        trim = read("trim")
        assert verify_type(trim, "127.0.2.1") is None
        assert verify_type(trim, "127.0.2.2") is None

        report_all = read("report-all")
        for address in ("127.0.2.1", "127.0.2.2"):
            leaf = verify_type(report_all, address)
            assert leaf.text == "ip-address"
            assert dict(leaf.attrib) == {}

        tagged = read("report-all-tagged")
        for address in ("127.0.2.1", "127.0.2.2"):
            leaf = verify_type(tagged, address)
            assert leaf.text == "ip-address"
            assert leaf.get(f"{{{NS_DEFAULT}}}default") == "true"
        port = tagged.find(".//ztp:certificate-remote/ztp:port", NS)
        assert port.get(f"{{{NS_DEFAULT}}}default") is None


def test_get_data_and_edit_data_per_datastore(lab):
    port = lab.start_bootstrap_server()
    lab.start_daemon()
    with lab.connect() as session:
        edit_data(session, "candidate", config(policy("ztp_policy"), server("127.0.0.1", port)))
        assert addresses(get_data(session, "candidate")) == ["127.0.0.1"]
        assert addresses(get_data(session, "running")) == []

        session.commit()
        assert addresses(get_data(session, "running")) == ["127.0.0.1"]
        wait_for_status(session, ("installed", "failed"))

        operational = get_data(session, "operational")
        assert addresses(operational) == ["127.0.0.1"]
        status = operational.findtext(".//ztp:certificate-remote-state/ztp:certificate-status", namespaces=NS)
        assert status == "installed"
        fingerprint = operational.findtext(
            ".//ztp:certificate-remote-state/ztp:certificate/ztp:fingerprint-sha256", namespaces=NS
        )
        assert fingerprint == lab.nce_fingerprint()
        names = [name.text for name in operational.iterfind(".//pki:domain/pki:certificate/pki:name", NS)]
        assert names == ["NCE-bootstrap.pem"]
        assert operational.find(f"{{{NS_YANG_LIBRARY}}}yang-library") is not None
        assert operational.find(f"{{{NS_MONITORING}}}netconf-state") is not None

        # A subtree filter on operational selects the state alone.
        selected = get_data(session, "operational", f'<ztp xmlns="{NS_ZTP}"><certificate-remote-state/></ztp>')
        assert [child.tag for child in selected] == [f"{{{NS_ZTP}}}ztp"]
        assert addresses(selected) == []

        # The running datastore contains no state.
        assert get_data(session, "running").find(".//ztp:certificate-remote-state", NS) is None


def test_nmda_errors(lab):
    lab.start_daemon()
    with lab.connect() as session:
        with pytest.raises(RPCError) as raised:
            session.dispatch(nmda_element("get-data", "intended"))
        assert raised.value.tag == "invalid-value"
        assert "ds:intended" in raised.value.message

        with pytest.raises(RPCError) as raised:
            edit_data(session, "operational", config(policy("ztp_policy")))
        assert raised.value.tag == "invalid-value"
        assert "ds:operational" in raised.value.message
        assert addresses(get_data(session, "running")) == []
