"""The pure part of the cgroup stanza: names, key mapping, per-instance plans."""

from __future__ import annotations

import pytest

from upstart.cgroups.model import (
    V1, V2, Placement, Write, clean_path, default_name, expand, plan_job,
    shares_to_weight, translate, weight_to_shares,
)
from upstart.jobfile.model import CGroup
from upstart.jobfile.parser import parse_job


def test_default_name_replaces_slashes_in_job_and_instance():
    assert default_name("foo", "") == "upstart/foo"
    assert default_name("a/b", "x/y") == "upstart/a_b-x_y"


def test_expand_only_the_bare_upstart_cgroup_form_and_process_env():
    env = {"USER": "bob"}
    assert expand("$UPSTART_CGROUP/sub", env, "j", "i") == "upstart/j-i/sub"
    assert expand("users/$USER/${USER}", env, "j", "") == "users/bob/bob"
    assert expand("$UNSET-x", env, "j", "") == "-x"


@pytest.mark.parametrize("name,want", [
    ("a/b", "a/b"), ("/a//b/", "a/b"), ("..", None), ("a/../b", None), ("", None),
    ("./a", None)])
def test_clean_path(name, want):
    assert clean_path(name) == want


@pytest.mark.parametrize("ctrl,key,value,world,want", [
    ("memory", "limit_in_bytes", "33554432", V2, [Write("memory.max", "33554432")]),
    ("memory", "limit_in_bytes", "-1", V2, [Write("memory.max", "max")]),
    ("memory", "max", "32M", V1, [Write("memory.limit_in_bytes", "32M")]),
    ("memory", "max", "max", V1, [Write("memory.limit_in_bytes", "-1")]),
    ("memory", "high", "1G", V1, [Write("memory.soft_limit_in_bytes", "1G")]),
    ("memory", "soft_limit_in_bytes", "1G", V2, [Write("memory.low", "1G")]),
    ("cpu", "shares", "1024", V2, [Write("cpu.weight", "100")]),
    ("cpu", "weight", "100", V1, [Write("cpu.shares", "1024")]),
    ("cpu", "cfs_quota_us", "50000", V2, [Write("cpu.max", "50000")]),
    ("cpu", "cfs_quota_us", "-1", V2, [Write("cpu.max", "max")]),
    ("cpu", "cfs_period_us", "20000", V2, [Write("cpu.max", "20000", period_of=True)]),
    ("cpu", "max", "50000 100000", V1, [Write("cpu.cfs_period_us", "100000"),
                                         Write("cpu.cfs_quota_us", "50000")]),
    ("cpu", "max", "max", V1, [Write("cpu.cfs_quota_us", "-1")]),
    ("pids", "max", "100", V1, [Write("pids.max", "100")]),
    ("pids", "max", "100", V2, [Write("pids.max", "100")]),
    ("blkio", "weight", "500", V2, [Write("io.weight", "100")]),
    ("io", "weight", "default 100", V1, [Write("blkio.weight", "500")]),
    ("blkio", "throttle.read_bps_device", "8:0 1048576", V2,
     [Write("io.max", "8:0 rbps=1048576")]),
    ("io", "max", "8:0 wbps=10 riops=max", V1,
     [Write("blkio.throttle.write_bps_device", "8:0 10"),
      Write("blkio.throttle.read_iops_device", "8:0 0")]),
    ("cpuset", "cpus", "0-1", V1, [Write("cpuset.cpus", "0-1")]),
    ("cpuset", "cpus", "0-1", V2, [Write("cpuset.cpus", "0-1")]),
    ("memory", "swappiness", "10", V1, [Write("memory.swappiness", "10")]),
])
def test_translate(ctrl, key, value, world, want):
    assert translate(ctrl, key, value, world) == want


def test_translate_refuses_what_has_no_equivalent():
    with pytest.raises(ValueError):
        translate("memory", "memsw.limit_in_bytes", "1G", V2)
    with pytest.raises(ValueError):
        translate("io", "max", "8:0 bogus=1", V1)


def test_weight_conversions_clamp_and_round_trip_the_defaults():
    assert shares_to_weight("2") == "1"
    assert shares_to_weight("262144") == "10000"
    assert weight_to_shares("10000") == "102400"
    assert weight_to_shares(shares_to_weight("1024")) == "1024"


def _entries(text: str):
    return parse_job(text, "job").cgroups


def test_plan_v1_world_places_each_controller_and_tracks_with_v2():
    plan = plan_job(_entries("cgroup memory $UPSTART_CGROUP limit_in_bytes 1M\ncgroup pids\n"),
                    job="web", instance="a", env={}, v1_controllers={"memory", "pids"},
                    v2_available=set(), freezer_v1=True)
    assert Placement(V1, "memory", "upstart/web-a") in plan.placements
    assert Placement(V1, "pids", "upstart/web-a") in plan.placements
    assert plan.track == Placement(V2, "", "upstart/web-a")
    assert plan.writes == [(Placement(V1, "memory", "upstart/web-a"),
                            Write("memory.limit_in_bytes", "1M"))]
    assert plan.warnings == []


def test_plan_v2_world_uses_one_cgroup_and_enables_controllers():
    plan = plan_job([CGroup("memory", None, "limit_in_bytes", "1M"), CGroup("cpu", None,
                     "weight", "50")], job="db", instance="", env={}, v1_controllers=set(),
                    v2_available={"memory", "cpu", "pids"}, freezer_v1=False)
    assert plan.placements == [Placement(V2, "", "upstart/db")]
    assert plan.v2_controllers == {"upstart/db": {"memory", "cpu"}}
    assert [w for _, w in plan.writes] == [Write("memory.max", "1M"), Write("cpu.weight", "50")]


def test_plan_v2_world_cannot_split_a_job_over_two_cgroups():
    plan = plan_job([CGroup("memory", "a"), CGroup("cpu", "b")], job="j", instance="", env={},
                    v1_controllers=set(), v2_available={"memory", "cpu"}, freezer_v1=False)
    assert plan.placements == [Placement(V2, "", "a")]
    assert "only one v2 cgroup" in plan.warnings[0]


def test_plan_without_v2_tracks_with_the_v1_freezer():
    plan = plan_job([CGroup("memory")], job="j", instance="", env={},
                    v1_controllers={"memory", "freezer"}, v2_available=None, freezer_v1=True)
    assert plan.track == Placement(V1, "freezer", "upstart/j")
    assert Placement(V1, "freezer", "upstart/j") in plan.placements


def test_plan_missing_controller_and_bad_name_are_warnings_not_errors():
    plan = plan_job([CGroup("nosuch"), CGroup("memory", "../x"), CGroup("memory", "ok")],
                    job="j", instance="", env={}, v1_controllers={"memory"},
                    v2_available=None, freezer_v1=False)
    assert plan.placements == [Placement(V1, "memory", "ok")]
    assert plan.track is None
    assert any("nosuch is not available" in w for w in plan.warnings)
    assert any("invalid cgroup name" in w for w in plan.warnings)


def test_plan_io_name_reaches_the_v1_blkio_hierarchy():
    plan = plan_job([CGroup("io", None, "weight", "100")], job="j", instance="", env={},
                    v1_controllers={"blkio"}, v2_available=None, freezer_v1=False)
    assert plan.writes == [(Placement(V1, "blkio", "upstart/j"), Write("blkio.weight", "500"))]


def test_plan_names_expand_from_the_process_environment():
    plan = plan_job(_entries("cgroup memory users/$USER\n"), job="j", instance="",
                    env={"USER": "ann"}, v1_controllers={"memory"}, v2_available=None,
                    freezer_v1=False)
    assert plan.placements == [Placement(V1, "memory", "users/ann")]
