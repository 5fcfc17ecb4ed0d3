"""Event notifications through the real ncclient: subscribe, receive the
RFC 6470 base notifications of other sessions and of configuration
changes, filter them, and replay them from the log."""

from datetime import datetime, timedelta, timezone

import pytest
from ncclient.operations.rpc import RPCError

from conftest import NS_SSL, USER, config, policy

NS_NOTIFICATION = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NS_NETMOD_NOTIFICATION = "urn:ietf:params:xml:ns:netmod:notification"
NS_NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NCN = {"ncn": NS_NCN}
STREAMS_NS = {"s": NS_NETMOD_NOTIFICATION}

# How long a test waits for a notification that should arrive, and how
# long it listens to be sure that none comes.
NOTIFICATION_TIMEOUT_SECONDS = 10
SILENCE_SECONDS = 1


def next_event(session):
    """The next notification of `session` as (eventTime, event element)."""
    notification = session.take_notification(timeout=NOTIFICATION_TIMEOUT_SECONDS)
    assert notification is not None, f"no notification within {NOTIFICATION_TIMEOUT_SECONDS} s"
    root = notification.notification_ele
    assert root.tag == f"{{{NS_NOTIFICATION}}}notification"
    event_time = root.findtext(f"{{{NS_NOTIFICATION}}}eventTime")
    assert event_time
    events = [child for child in root if child.tag != f"{{{NS_NOTIFICATION}}}eventTime"]
    assert len(events) == 1, notification.notification_xml
    return event_time, events[0]


def base_event(session, name):
    """The next notification of `session`, which must be the RFC 6470 event `name`."""
    _, event = next_event(session)
    assert event.tag == f"{{{NS_NCN}}}{name}", event.tag
    return event


def test_capabilities_advertised(lab):
    lab.start_daemon()
    with lab.connect() as session:
        capabilities = list(session.server_capabilities)
        assert "urn:ietf:params:netconf:capability:notification:1.0" in capabilities
        assert "urn:ietf:params:netconf:capability:interleave:1.0" in capabilities
        assert any(
            uri.startswith(f"{NS_NCN}?module=ietf-netconf-notifications&revision=2012-02-06")
            for uri in capabilities
        )


def test_session_start_and_end(lab):
    lab.start_daemon()
    with lab.connect() as watcher:
        watcher.create_subscription()
        with lab.connect(password=True) as other:
            other_id = other.session_id
            start = base_event(watcher, "netconf-session-start")
            assert start.findtext("ncn:username", namespaces=NCN) == USER
            assert start.findtext("ncn:session-id", namespaces=NCN) == other_id
            assert start.findtext("ncn:source-host", namespaces=NCN) == "127.0.0.1"
        # Leaving the block sends close-session.
        end = base_event(watcher, "netconf-session-end")
        assert end.findtext("ncn:session-id", namespaces=NCN) == other_id
        assert end.findtext("ncn:termination-reason", namespaces=NCN) == "closed"
        assert end.find("ncn:killed-by", NCN) is None


def test_config_change_names_editor_and_edit(lab):
    lab.start_daemon()
    with lab.connect() as watcher:
        watcher.create_subscription()
        # The subscribed session keeps serving requests (interleave).
        watcher.edit_config(target="candidate", config=config(policy("ztp_policy")))
        watcher.commit()

        change = base_event(watcher, "netconf-config-change")
        assert change.findtext("ncn:changed-by/ncn:username", namespaces=NCN) == USER
        assert change.findtext("ncn:changed-by/ncn:session-id", namespaces=NCN) == watcher.session_id
        assert change.findtext("ncn:datastore", namespaces=NCN) == "running"
        edits = change.findall("ncn:edit", NCN)
        assert len(edits) == 1
        assert edits[0].findtext("ncn:operation", namespaces=NCN) == "create"
        target = edits[0].find("ncn:target", NCN)
        prefix = next(name for name, uri in target.nsmap.items() if uri == NS_SSL)
        assert target.text == (
            f"/{prefix}:ssl/{prefix}:ssl-policies/{prefix}:ssl-policy"
            f"[{prefix}:policy-name='ztp_policy']"
        )


def test_filter_selects_config_change_only(lab):
    lab.start_daemon()
    with lab.connect() as watcher:
        watcher.create_subscription(filter=("subtree", f'<netconf-config-change xmlns="{NS_NCN}"/>'))
        with lab.connect(password=True) as other:
            other.edit_config(target="running", config=config(policy("ztp_policy")))
            other_id = other.session_id
        change = base_event(watcher, "netconf-config-change")
        assert change.findtext("ncn:changed-by/ncn:session-id", namespaces=NCN) == other_id
        # The session start and end of the other session are filtered out.
        assert watcher.take_notification(timeout=SILENCE_SECONDS) is None


def run_first_session(lab, watcher):
    """Logs three events to replay: the start, a configuration change and
    the end of a session. Returns its session-id once `watcher`, which is
    subscribed, has seen the end: the server publishes it after the
    session closed."""
    with lab.connect() as first:
        first_id = first.session_id
        first.edit_config(target="running", config=config(policy("ztp_policy")))
    base_event(watcher, "netconf-session-start")
    base_event(watcher, "netconf-config-change")
    base_event(watcher, "netconf-session-end")
    return first_id


def test_replay_from_start_time(lab):
    lab.start_daemon()
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    with lab.connect(password=True) as watcher:
        watcher.create_subscription()
        first_id = run_first_session(lab, watcher)

        with lab.connect() as replayer:
            replayer.create_subscription(start_time=before.isoformat())
            assert base_event(replayer, "netconf-session-start").findtext(
                "ncn:session-id", namespaces=NCN
            ) == watcher.session_id
            assert base_event(replayer, "netconf-session-start").findtext(
                "ncn:session-id", namespaces=NCN
            ) == first_id
            base_event(replayer, "netconf-config-change")
            assert base_event(replayer, "netconf-session-end").findtext(
                "ncn:termination-reason", namespaces=NCN
            ) == "closed"
            assert base_event(replayer, "netconf-session-start").findtext(
                "ncn:session-id", namespaces=NCN
            ) == replayer.session_id
            _, complete = next_event(replayer)
            assert complete.tag == f"{{{NS_NETMOD_NOTIFICATION}}}replayComplete"

            # After the replay the subscription goes on live.
            replayer.edit_config(target="running", config=config(policy("other_policy")))
            base_event(replayer, "netconf-config-change")


def test_replay_until_stop_time_ends_subscription(lab):
    lab.start_daemon()
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    with lab.connect(password=True) as watcher:
        watcher.create_subscription()
        run_first_session(lab, watcher)
        stop = datetime.now(timezone.utc)

        with lab.connect() as replayer:
            replayer.create_subscription(start_time=before.isoformat(), stop_time=stop.isoformat())
            for name in (
                "netconf-session-start",
                "netconf-session-start",
                "netconf-config-change",
                "netconf-session-end",
            ):
                base_event(replayer, name)
            _, complete = next_event(replayer)
            assert complete.tag == f"{{{NS_NETMOD_NOTIFICATION}}}replayComplete"
            _, complete = next_event(replayer)
            assert complete.tag == f"{{{NS_NETMOD_NOTIFICATION}}}notificationComplete"

            # The subscription has ended, so a new one is allowed, and a
            # second one while that is active is not.
            replayer.create_subscription()
            with pytest.raises(RPCError) as raised:
                replayer.create_subscription()
            assert raised.value.tag == "operation-failed"
            assert raised.value.type == "protocol"


def test_unknown_stream_rejected(lab):
    lab.start_daemon()
    with lab.connect() as session:
        with pytest.raises(RPCError) as raised:
            session.create_subscription(stream_name="SYSLOG")
        assert raised.value.tag == "invalid-value"
        assert raised.value.type == "protocol"
        assert "SYSLOG" in raised.value.message


def test_stream_list_tells_replay_start(lab):
    lab.start_daemon()
    with lab.connect() as session:
        reply = session.get(
            filter=("subtree", f'<netconf xmlns="{NS_NETMOD_NOTIFICATION}"><streams/></netconf>')
        )
        streams = reply.data_ele.findall("s:netconf/s:streams/s:stream", namespaces=STREAMS_NS)
        assert [stream.findtext("s:name", namespaces=STREAMS_NS) for stream in streams] == ["NETCONF"]
        stream = streams[0]
        assert stream.findtext("s:description", namespaces=STREAMS_NS)
        assert stream.findtext("s:replaySupport", namespaces=STREAMS_NS) == "true"
        created = datetime.fromisoformat(stream.findtext("s:replayLogCreationTime", namespaces=STREAMS_NS))
        assert created <= datetime.now(timezone.utc)
        # Nothing has aged out of a log this young.
        assert stream.find("s:replayLogAgedTime", namespaces=STREAMS_NS) is None

        # A replay from the creation time of the log includes this
        # session's own start.
        session.create_subscription(start_time=created.isoformat())
        event = base_event(session, "netconf-session-start")
        assert event.findtext("ncn:session-id", namespaces=NCN) == session.session_id
