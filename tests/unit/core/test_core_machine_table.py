"""The state table, walked cell by cell (spec 03 §3)."""

import pytest

from upstart.core.machine import ENTRY, GOALS, NEXT, STATES, next_state

EXPECTED = {
    # state: (goal=start, goal=stop)
    "waiting": ("starting", None),
    "starting": ("security-spawning", "stopping"),
    "security-spawning": ("security", "stopping"),
    "security": ("pre-starting", "stopping"),
    "pre-starting": ("pre-start", "stopping"),
    "pre-start": ("spawning", "stopping"),
    "spawning": ("spawned", "stopping"),
    "spawned": ("post-starting", "stopping"),
    "post-starting": ("post-start", "stopping"),
    "post-start": ("running", "stopping"),
    "running": ("stopping", "*"),
    "pre-stopping": ("pre-stop", "pre-stop"),
    "pre-stop": ("running", "stopping"),
    "stopping": ("killed", "killed"),
    "killed": ("post-stopping", "post-stopping"),
    "post-stopping": ("post-stop", "post-stop"),
    "post-stop": ("starting", "waiting"),
}


def test_seventeen_states_all_have_entry_actions():
    assert len(STATES) == 17
    assert set(ENTRY) == set(STATES)
    assert set(EXPECTED) == set(STATES)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("goal", GOALS)
def test_every_pair(state, goal):
    if goal == "respawn":
        if state in ("post-start", "pre-stop"):
            assert next_state(state, goal) == ("stopping", "start")
        else:
            with pytest.raises(KeyError):
                next_state(state, goal)
        return
    want = EXPECTED[state][0 if goal == "start" else 1]
    if want is None:
        with pytest.raises(KeyError):
            next_state(state, goal)
    elif want == "*":
        assert next_state(state, goal, main_alive=True) == ("pre-stopping", "stop")
        assert next_state(state, goal, main_alive=False) == ("stopping", "stop")
    else:
        assert next_state(state, goal) == (want, goal)


def test_table_has_no_unknown_states():
    for (state, goal), _nxt in NEXT.items():
        assert state in STATES and goal in GOALS


def test_entry_table_blocking_events():
    assert ENTRY["starting"].event == "starting" and ENTRY["starting"].blocks
    assert ENTRY["stopping"].event == "stopping" and ENTRY["stopping"].blocks
    assert ENTRY["running"].event == "started" and not ENTRY["running"].blocks
    assert ENTRY["waiting"].event == "stopped" and not ENTRY["waiting"].blocks
    assert ENTRY["spawning"].spawn == "main" and ENTRY["spawned"].wait == "main"


def test_every_timer_kind_has_a_handler():
    """One table of timer kinds (effects.TIMER_KINDS); the engine handles each."""
    from upstart.core.effects import TIMER_KINDS
    from upstart.core.engine import Engine
    assert set(Engine._TIMER_FIRED) == set(TIMER_KINDS)


def test_entry_table_drives_the_lifecycle():
    """Each state does one kind of moving on; the wait states are derived."""
    from upstart.core.machine import WAIT_STATE
    for state, entry in ENTRY.items():
        assert sum(x is not None and x is not False
                   for x in (entry.spawn, entry.wait, entry.kill or None)) <= 1, state
    assert WAIT_STATE == {"security": "security", "pre-start": "pre-start", "main": "spawned",
                          "post-start": "post-start", "pre-stop": "pre-stop",
                          "post-stop": "post-stop"}
    assert ENTRY["killed"].kill and ENTRY["starting"].new_run and ENTRY["waiting"].remove
