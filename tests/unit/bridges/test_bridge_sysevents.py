"""The event bridge's mapping of system init signals to session events."""

from upstart.bridges.sysevents import session_event
from upstart.control import client, wire


def sig(member, iface=client.MANAGER_IFACE):
    return {wire.F_INTERFACE: iface, wire.F_MEMBER: member}


def test_event_emitted_gets_the_sys_prefix_and_same_env():
    assert session_event(sig("EventEmitted"), ["runlevel", ["RUNLEVEL=2", "PREVLEVEL=N"]]) == \
        (":sys:runlevel", ["RUNLEVEL=2", "PREVLEVEL=N"])


def test_restarted():
    assert session_event(sig("Restarted"), []) == (":sys:restarted", [])


def test_already_forwarded_events_and_other_signals_are_ignored():
    assert session_event(sig("EventEmitted"), [":sys:startup", []]) is None
    assert session_event(sig("JobAdded"), ["/com/ubuntu/Upstart/jobs/x"]) is None
    assert session_event(sig("EventEmitted", "org.other"), ["x", []]) is None
