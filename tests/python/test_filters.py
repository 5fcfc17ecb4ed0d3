"""Subtree and XPath filters of get and get-config through the real
ncclient, asserting the exact data that comes back."""

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError

from conftest import NS_PKI, NS_SSL, NS_ZTP, config, policy, server

# Loopback servers on ports where nothing listens, so that the downloads a
# commit starts fail at once and touch no other host.
SERVERS = [("127.0.0.1", 30217, None), ("127.0.0.2", 443, "esn"), ("127.0.0.3", 30217, None)]


def shape(element):
    """An element as (qualified name, text, children), white space ignored,
    for exact comparisons."""
    text = (element.text or "").strip()
    return (element.tag, text, [shape(child) for child in element])


def data_shape(reply):
    """The top-level data nodes of a reply, sorted by name: the order of
    top-level nodes of different modules carries no meaning."""
    root = etree.fromstring(reply.data_xml.encode())
    return sorted(shape(child) for child in root)


def leaf(namespace, name, value):
    return (f"{{{namespace}}}{name}", value, [])


def ssl(*entries):
    return (
        f"{{{NS_SSL}}}ssl",
        "",
        [(f"{{{NS_SSL}}}ssl-policies", "", list(entries))],
    )


def ssl_policy(*leaves):
    return (f"{{{NS_SSL}}}ssl-policy", "", [leaf(NS_SSL, name, value) for name, value in leaves])


def ztp(*entries):
    return (f"{{{NS_ZTP}}}ztp", "", list(entries))


def certificate_remote(*leaves):
    return (
        f"{{{NS_ZTP}}}certificate-remote",
        "",
        [leaf(NS_ZTP, name, value) for name, value in leaves],
    )


def full_server(address, port, verify_type=None):
    leaves = [
        ("address", address),
        ("vpn-instance", "_public_"),
        ("port", str(port)),
        ("ssl-policy", "ztp_policy"),
    ]
    if verify_type:
        leaves.append(("verify-type", verify_type))
    return certificate_remote(*leaves)


@pytest.fixture
def session(lab):
    """Yields a session to a daemon whose running datastore contains two
    policies and the three servers of SERVERS."""
    lab.start_daemon()
    with lab.connect() as session:
        servers = "".join(server(address, port, verify_type=verify) for address, port, verify in SERVERS)
        session.edit_config(
            target="candidate",
            config=config(policy("ztp_policy") + policy("spare", "lab"), servers),
        )
        session.commit()
        yield session


def test_subtree_selection_nodes(session):
    reply = session.get_config(
        source="running",
        filter=(
            "subtree",
            f'<ssl xmlns="{NS_SSL}"><ssl-policies><ssl-policy><policy-name/></ssl-policy></ssl-policies></ssl>',
        ),
    )
    assert data_shape(reply) == [
        ssl(ssl_policy(("policy-name", "spare")), ssl_policy(("policy-name", "ztp_policy")))
    ]


def test_subtree_containment_and_content_match(session):
    reply = session.get_config(
        source="running",
        filter=(
            "subtree",
            f'<ztp xmlns="{NS_ZTP}"><certificate-remote><address>127.0.0.2</address>'
            "<port/><verify-type/></certificate-remote></ztp>",
        ),
    )
    assert data_shape(reply) == [
        ztp(
            certificate_remote(
                ("address", "127.0.0.2"),
                ("vpn-instance", "_public_"),
                ("port", "443"),
                ("verify-type", "esn"),
            )
        )
    ]


def test_subtree_content_match_returns_whole_entries(session):
    reply = session.get_config(
        source="running",
        filter=("subtree", f'<ztp xmlns="{NS_ZTP}"><certificate-remote><port>30217</port></certificate-remote></ztp>'),
    )
    assert data_shape(reply) == [ztp(full_server("127.0.0.1", 30217), full_server("127.0.0.3", 30217))]


def test_subtree_several_content_matches_and_subtrees(session):
    reply = session.get_config(
        source="running",
        filter=[
            f'<ztp xmlns="{NS_ZTP}">'
            "<certificate-remote><port>30217</port><address>127.0.0.3</address></certificate-remote>"
            "<certificate-remote><port>30217</port><address>127.0.0.2</address></certificate-remote>"
            "</ztp>",
            f'<ssl xmlns="{NS_SSL}"><ssl-policies><ssl-policy><policy-name>spare</policy-name></ssl-policy></ssl-policies></ssl>',
        ],
    )
    assert data_shape(reply) == [
        ssl(ssl_policy(("policy-name", "spare"), ("pki-domain", "lab"))),
        ztp(full_server("127.0.0.3", 30217)),
    ]


def test_subtree_namespace_selection(session):
    # An element without a namespace matches in any module.
    reply = session.get_config(source="running", filter=("subtree", "<ssl/>"))
    assert data_shape(reply) == [
        ssl(
            ssl_policy(("policy-name", "spare"), ("pki-domain", "lab")),
            ssl_policy(("policy-name", "ztp_policy"), ("pki-domain", "default")),
        )
    ]
    # With the namespace of another module it matches nothing.
    reply = session.get_config(source="running", filter=("subtree", f'<ssl xmlns="{NS_ZTP}"/>'))
    assert data_shape(reply) == []


def test_get_subtree_state(session):
    reply = session.get(filter=("subtree", f'<pki xmlns="{NS_PKI}"><domain><name/></domain></pki>'))
    assert data_shape(reply) == [
        (f"{{{NS_PKI}}}pki", "", [(f"{{{NS_PKI}}}domain", "", [leaf(NS_PKI, "name", "default")])])
    ]


def test_xpath_get_config_with_namespace_map(session):
    reply = session.get_config(
        source="running",
        filter=("xpath", ({"z": NS_ZTP}, "/z:ztp/z:certificate-remote[z:port='30217']")),
    )
    assert data_shape(reply) == [ztp(full_server("127.0.0.1", 30217), full_server("127.0.0.3", 30217))]


def test_xpath_leaf_with_keys(session):
    reply = session.get_config(
        source="running",
        filter=("xpath", ({"t": NS_ZTP}, "/t:ztp/t:certificate-remote[t:address='127.0.0.2']/t:verify-type")),
    )
    assert data_shape(reply) == [
        ztp(certificate_remote(("address", "127.0.0.2"), ("vpn-instance", "_public_"), ("verify-type", "esn")))
    ]


def test_xpath_get_configuration_and_state(session):
    reply = session.get(
        filter=(
            "xpath",
            (
                {"s": NS_SSL, "p": NS_PKI},
                "/s:ssl/s:ssl-policies/s:ssl-policy[s:pki-domain='lab'] | /p:pki/p:domain/p:name",
            ),
        )
    )
    assert data_shape(reply) == [
        (f"{{{NS_PKI}}}pki", "", [(f"{{{NS_PKI}}}domain", "", [leaf(NS_PKI, "name", "default")])]),
        ssl(ssl_policy(("policy-name", "spare"), ("pki-domain", "lab"))),
    ]


def test_xpath_undeclared_prefix_rejected(session):
    # The plain string form declares no namespaces on <filter>.
    with pytest.raises(RPCError) as raised:
        session.get_config(source="running", filter=("xpath", "/z:ztp"))
    error = raised.value
    assert error.tag == "invalid-value"
    assert error.type == "protocol"
    assert 'prefix "z"' in error.message


def test_xpath_invalid_expression_rejected(session):
    with pytest.raises(RPCError) as raised:
        session.get_config(source="running", filter=("xpath", ({"z": NS_ZTP}, "/z:ztp/[")))
    error = raised.value
    assert error.tag == "invalid-value"
    assert "Unexpected XPath token" in error.message
