"""The link rule: rtnetlink link messages → net-device-up/down, one per transition."""

from hypothesis import given, settings
from hypothesis import strategies as st

from upstart.bridges.linkstate import (
    DOWN, IFF_RUNNING, IFF_UP, UP, Event, LinkMsg, LinkState, apply, down, is_up, link_env,
    resync, step, up,
)

AF_BRIDGE = 7
IFF_BROADCAST = 0x2
IFF_LOWER_UP = 0x10000
RUNNING = IFF_UP | IFF_RUNNING | IFF_LOWER_UP | IFF_BROADCAST   # what the kernel reports
ADMIN_ONLY = IFF_UP | IFF_BROADCAST                               # up, no carrier


def feed(msgs, table=None):
    table = {} if table is None else table
    events = []
    for msg in msgs:
        events += apply(table, msg)
    return table, events


def test_env_is_shaped_like_ifupdowns_hook():
    assert link_env("eth0") == ["IFACE=eth0", "LOGICAL=eth0", "ADDRFAM=link", "METHOD=none"]
    assert up("lo") == Event(UP, ["IFACE=lo", "LOGICAL=lo", "ADDRFAM=link", "METHOD=none"])
    assert down("lo").name == DOWN == "net-device-down"
    assert UP == "net-device-up"


def test_up_needs_both_admin_up_and_running():
    assert is_up(IFF_UP | IFF_RUNNING)
    assert is_up(RUNNING)
    assert not is_up(0)
    assert not is_up(IFF_UP)                     # administratively up, no carrier / dormant
    assert not is_up(IFF_RUNNING)                # cannot happen, but is not up either
    assert not is_up(IFF_LOWER_UP | IFF_BROADCAST)


def test_a_new_link_that_is_down_says_nothing_and_is_remembered():
    state, events = step(None, LinkMsg(3, "dummy0", 0x82))
    assert (state, events) == (LinkState("dummy0", False), [])


def test_a_new_link_that_is_already_up_says_up():
    state, events = step(None, LinkMsg(1, "lo", 0x10049))      # lo as the kernel dumps it
    assert state == LinkState("lo", True)
    assert events == [up("lo")]


def test_one_event_per_transition_not_per_message():
    msgs = [LinkMsg(4, "eth0", ADMIN_ONLY),     # ip link set eth0 up, no cable yet
            LinkMsg(4, "eth0", ADMIN_ONLY),
            LinkMsg(4, "eth0", RUNNING),        # carrier
            LinkMsg(4, "eth0", RUNNING),        # mtu change, statistics, ...
            LinkMsg(4, "eth0", RUNNING),
            LinkMsg(4, "eth0", ADMIN_ONLY),     # cable pulled
            LinkMsg(4, "eth0", ADMIN_ONLY),
            LinkMsg(4, "eth0", 0x1002),         # ip link set eth0 down
            LinkMsg(4, "eth0", RUNNING),
            LinkMsg(4, "eth0", 0)]
    table, events = feed(msgs)
    assert events == [up("eth0"), down("eth0"), up("eth0"), down("eth0")]
    assert table == {4: LinkState("eth0", False)}


def test_deleting_an_up_link_says_down_with_the_name_it_had():
    table, events = feed([LinkMsg(5, "veth0", RUNNING), LinkMsg(5, "veth0", RUNNING,
                                                                 deleted=True)])
    assert events == [up("veth0"), down("veth0")]
    assert table == {}


def test_deleting_a_down_or_unknown_link_says_nothing():
    table, events = feed([LinkMsg(5, "veth0", ADMIN_ONLY), LinkMsg(5, "veth0", deleted=True),
                          LinkMsg(9, "ghost", RUNNING, deleted=True)])
    assert (table, events) == ({}, [])


def test_a_delete_without_a_name_uses_the_remembered_one():
    table, events = feed([LinkMsg(5, "veth0", RUNNING), LinkMsg(5, None, deleted=True)])
    assert events == [up("veth0"), down("veth0")]


def test_renaming_an_up_link_is_down_under_the_old_name_then_up_under_the_new():
    table, events = feed([LinkMsg(6, "eth0", RUNNING), LinkMsg(6, "lan", RUNNING)])
    assert events == [up("eth0"), down("eth0"), up("lan")]
    assert table == {6: LinkState("lan", True)}


def test_renaming_a_down_link_says_nothing_and_the_next_up_uses_the_new_name():
    table, events = feed([LinkMsg(6, "eth0", 0), LinkMsg(6, "lan", 0), LinkMsg(6, "lan",
                                                                              RUNNING)])
    assert events == [up("lan")]


def test_rename_and_down_in_one_message_is_one_down_for_the_old_name():
    table, events = feed([LinkMsg(6, "eth0", RUNNING), LinkMsg(6, "lan", 0)])
    assert events == [up("eth0"), down("eth0")]
    assert table == {6: LinkState("lan", False)}


def test_a_message_without_a_name_keeps_the_known_one():
    table, events = feed([LinkMsg(7, "wlan0", ADMIN_ONLY), LinkMsg(7, None, RUNNING)])
    assert events == [up("wlan0")]
    assert table == {7: LinkState("wlan0", True)}


def test_a_nameless_message_for_an_unknown_link_is_ignored():
    assert step(None, LinkMsg(8, None, RUNNING)) == (None, [])
    assert step(None, LinkMsg(8, "", RUNNING)) == (None, [])


def test_bridge_port_notifications_are_not_link_changes():
    # removing a port from a bridge sends RTM_DELLINK with family AF_BRIDGE
    # for a link that still exists; it must neither drop nor report it
    table, events = feed([LinkMsg(9, "eth1", RUNNING),
                          LinkMsg(9, "eth1", RUNNING, deleted=True, family=AF_BRIDGE),
                          LinkMsg(9, "eth1", 0, family=AF_BRIDGE)])
    assert events == [up("eth1")]
    assert table == {9: LinkState("eth1", True)}


def test_links_are_independent():
    table, events = feed([LinkMsg(1, "lo", RUNNING), LinkMsg(2, "eth0", RUNNING),
                          LinkMsg(1, "lo", 0), LinkMsg(2, "eth0", RUNNING)])
    assert events == [up("lo"), up("eth0"), down("lo")]


def test_resync_from_nothing_reports_the_links_already_up_in_dump_order():
    dump = [LinkMsg(1, "lo", 0x10049), LinkMsg(2, "ifb0", 0x82), LinkMsg(4, "eth0", 0x11043)]
    table, events = resync({}, dump)
    assert events == [up("lo"), up("eth0")]
    assert table == {1: LinkState("lo", True), 2: LinkState("ifb0", False),
                     4: LinkState("eth0", True)}


def test_resync_with_nothing_changed_says_nothing():
    dump = [LinkMsg(1, "lo", RUNNING), LinkMsg(2, "eth0", 0)]
    table, _ = resync({}, dump)
    again, events = resync(table, dump)
    assert (again, events) == (table, [])


def test_resync_after_lost_messages_reports_only_the_difference_downs_first():
    table = {1: LinkState("lo", True), 2: LinkState("eth0", True),
             3: LinkState("veth0", True), 4: LinkState("wlan0", False)}
    # meanwhile: veth0 deleted, eth0 deleted and created again as index 5, wlan0 came up
    dump = [LinkMsg(1, "lo", RUNNING), LinkMsg(4, "wlan0", RUNNING),
            LinkMsg(5, "eth0", RUNNING)]
    new, events = resync(table, dump)
    assert events == [down("eth0"), down("veth0"), up("wlan0"), up("eth0")]
    assert new == {1: LinkState("lo", True), 4: LinkState("wlan0", True),
                   5: LinkState("eth0", True)}
    assert table[3] == LinkState("veth0", True)          # the old table is left alone


def test_resync_ignores_foreign_families_in_the_dump():
    table, events = resync({1: LinkState("lo", True)},
                           [LinkMsg(1, "lo", RUNNING), LinkMsg(9, "br0", RUNNING,
                                                                family=AF_BRIDGE)])
    assert events == [] and set(table) == {1}


# ------------------------------------------------------------- properties

messages = st.builds(
    LinkMsg,
    index=st.integers(1, 3),
    name=st.one_of(st.none(), st.sampled_from(["a", "b", "c"])),
    flags=st.sampled_from([0, IFF_UP, IFF_RUNNING, IFF_UP | IFF_RUNNING, RUNNING]),
    deleted=st.booleans(),
    family=st.sampled_from([0, 0, 0, AF_BRIDGE]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(messages, max_size=40))
def test_any_message_sequence_gives_alternating_events_matching_the_table(msgs):
    table: dict = {}
    announced: dict[int, str | None] = {}        # index -> name announced up, or None
    for msg in msgs:
        before = dict(table)
        events = apply(table, msg)
        if msg.family != 0:
            assert table == before and events == []
        for event in events:
            name = event.env[0].split("=", 1)[1]
            assert event.env == link_env(name)
            if event.name == UP:                   # per link: up, down, up, ...
                assert announced.get(msg.index) is None
                announced[msg.index] = name
            else:
                assert announced.get(msg.index) == name     # down under the name it was up
                announced[msg.index] = None
        assert len(events) <= 2
        # after every message, what was announced is exactly what the table says
        for index in set(table) | set(announced):
            state = table.get(index)
            assert announced.get(index) == (state.name if state and state.up else None)
    # a resync against a dump of the remembered state changes nothing
    dump = [LinkMsg(i, s.name, IFF_UP | IFF_RUNNING if s.up else 0) for i, s in table.items()]
    assert resync(table, dump) == (table, [])
    # a resync against an empty dump takes every announced link down, and only those
    empty, events = resync(table, [])
    assert empty == {}
    assert sorted(e.env[0] for e in events) == sorted(
        "IFACE=" + s.name for s in table.values() if s.up)
    assert all(e.name == DOWN for e in events)
