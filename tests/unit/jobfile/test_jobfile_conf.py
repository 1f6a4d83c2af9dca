"""Configuration sources: scanning, names, shadowing, overrides, error texts."""

import os

import pytest

from upstart.jobfile.conf import (
    ConfSource,
    ignored_dir,
    job_name_for,
    load_sources,
    session_dirs,
    system_sources,
)
from upstart.jobfile.model import Match, Process


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def two(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    return a, b


def test_names_from_relative_paths(tmp_path):
    write(tmp_path / "rc-sysinit.conf", "task\n")
    write(tmp_path / "net/apache.conf", "exec apache\n")
    write(tmp_path / "net/deep/x.conf", "exec x\n")
    res = load_sources([str(tmp_path)])
    assert sorted(res.classes) == ["net/apache", "net/deep/x", "rc-sysinit"]
    assert res.classes["net/apache"].path == str(tmp_path / "net/apache.conf")
    assert res.errors == []


def test_ignore_rules(tmp_path):
    for d in (".hidden", "old~", "x.bak", "x.BAK", "#x#", "a.swp", ".git", ".svn",
              "x.dpkg-old", "x.rpmsave", "x.rpmnew", "x.rpmorig", ".#x"):
        write(tmp_path / d / "job.conf", "task\n")
    write(tmp_path / "notes.txt", "bogus\n")
    write(tmp_path / "job.conf.dpkg-dist", "bogus\n")
    write(tmp_path / ".conf", "bogus\n")
    write(tmp_path / ".override", "bogus\n")
    write(tmp_path / "ok.d/job.conf", "task\n")
    res = load_sources([str(tmp_path)])
    assert sorted(res.classes) == ["ok.d/job"] and res.errors == []


def test_ignored_dir_predicate():
    assert ignored_dir(".x") and ignored_dir("x~") and ignored_dir("#x#")
    assert ignored_dir("foo.dpkg-new") and ignored_dir(".bzr") and ignored_dir("a.swo")
    assert not ignored_dir("net") and not ignored_dir("x.d")


def test_symlinks_and_non_regular_files_are_ignored(tmp_path):
    real = write(tmp_path / "real.conf", "task\n")
    os.symlink(real, tmp_path / "link.conf")
    os.mkfifo(tmp_path / "fifo.conf")
    res = load_sources([str(tmp_path)])
    assert sorted(res.classes) == ["real"]


def test_parse_errors_are_reported_exactly(tmp_path):
    write(tmp_path / "good.conf", "exec sleep 1000\n")
    write(tmp_path / "b1.conf", "exec sleep 1000\nbogus stanza\n")
    write(tmp_path / "v05.conf", "kill signal BOGUS\n")
    res = load_sources([str(tmp_path)])
    assert list(res.classes) == ["good"]
    assert res.errors == [
        f"{tmp_path}/b1.conf:2: Unknown stanza",
        f"{tmp_path}/v05.conf: Error while loading configuration file: "
        "Illegal signal status, expected integer",
    ]


def test_unreadable_file_does_not_raise(tmp_path, monkeypatch):
    write(tmp_path / "x.conf", "task\n")
    import upstart.jobfile.conf as conf

    def boom(path):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(conf, "read_text", boom)
    res = load_sources([str(tmp_path)])
    assert res.classes == {}
    assert res.errors == [f"{tmp_path}/x.conf: Error while loading configuration file: Permission denied"]


def test_missing_source_is_not_an_error(tmp_path):
    res = load_sources([str(tmp_path / "nope"), ConfSource(str(tmp_path / "nope2"))])
    assert res.classes == {} and res.errors == []


def test_first_source_wins(two):
    a, b = two
    write(a / "j.conf", "description first\n")
    write(b / "j.conf", "description second\n")
    write(b / "only-b.conf", "task\n")
    res = load_sources([str(a), str(b)])
    assert res.classes["j"].description == "first"
    assert res.classes["j"].path == str(a / "j.conf")
    assert "only-b" in res.classes


def test_broken_first_source_falls_back_to_next(two):
    a, b = two
    write(a / "j.conf", "bogus\n")
    write(b / "j.conf", "description second\n")
    res = load_sources([str(a), str(b)])
    assert res.classes["j"].description == "second"
    assert res.errors == [f"{a}/j.conf:1: Unknown stanza"]


def test_override_in_same_source(tmp_path):
    write(tmp_path / "o.conf", "start on ev\nenv A=conf\nexec /bin/conf\n")
    write(tmp_path / "o.override", "env B=override\nexec /bin/override\n")
    cls = load_sources([str(tmp_path)]).classes["o"]
    assert cls.env == ["A=conf", "B=override"]
    assert cls.process["main"] == Process(False, "/bin/override")
    assert cls.override_path == str(tmp_path / "o.override")


def test_override_in_earlier_source_applies_later_source_ignored(two):
    a, b = two
    write(a / "j.override", "manual\n")
    write(b / "j.conf", "start on ev\n")
    write(b / "k.conf", "start on ev\n")
    write(a / "k.conf.unused", "")
    res = load_sources([str(a), str(b)])
    assert res.classes["j"].start_on is None
    # an override in a later source than the .conf does not apply
    write(a / "m.conf", "start on ev\n")
    write(b / "m.override", "manual\n")
    res = load_sources([str(a), str(b)])
    assert res.classes["m"].start_on == Match("ev")
    assert res.classes["m"].override_path is None


def test_first_override_in_source_order_wins(two, tmp_path):
    a, b = two
    c = tmp_path / "c"
    write(a / "j.override", "description from-a\n")
    write(b / "j.override", "description from-b\n")
    write(c / "j.conf", "description conf\n")
    res = load_sources([str(a), str(b), str(c)])
    assert res.classes["j"].description == "from-a"


def test_override_without_conf_is_ignored(tmp_path):
    write(tmp_path / "lonely.override", "task\nexec true\n")
    res = load_sources([str(tmp_path)])
    assert res.classes == {} and res.errors == []


def test_broken_override_keeps_conf_d2(tmp_path):
    write(tmp_path / "o.conf", "start on ev\nenv A=conf\n")
    write(tmp_path / "o.override", "env A=override\nbogus stanza\n")
    res = load_sources([str(tmp_path)])
    assert res.classes["o"].env == ["A=conf"]
    assert res.classes["o"].override_path is None
    assert res.errors == [f"{tmp_path}/o.override:2: Unknown stanza"]


def test_plain_file_source_accepts_no_stanzas(tmp_path):
    init_conf = write(tmp_path / "init.conf", "# only comments\n\n")
    jobs = tmp_path / "init"
    write(jobs / "x.conf", "task\n")
    res = load_sources([ConfSource(str(init_conf), "file"), ConfSource(str(jobs))])
    assert list(res.classes) == ["x"] and res.errors == []
    write(tmp_path / "init.conf", "# c\ntask\n")
    res = load_sources([ConfSource(str(init_conf), "file"), ConfSource(str(jobs))])
    assert res.errors == [f"{init_conf}:2: Unknown stanza"]


def test_plain_string_sources_detect_files(tmp_path):
    init_conf = write(tmp_path / "init.conf", "start on x\n")
    res = load_sources([str(init_conf)])
    assert res.errors == [f"{init_conf}:1: Unknown stanza"]


def test_system_sources():
    assert system_sources() == [ConfSource("/etc/init.conf", "file"), ConfSource("/etc/init")]
    assert system_sources(["/x"])[1:] == [ConfSource("/x")]


def test_job_name_for(tmp_path):
    dirs = ["/etc/init", "/home/u/.init"]
    assert job_name_for("/etc/init/net/apache.conf", dirs) == "net/apache"
    assert job_name_for("/etc/init/foo.override", dirs) == "foo"
    assert job_name_for("/home/u/.init/x.conf", dirs) == "x"
    assert job_name_for("/etc/init/foo.txt", dirs) is None
    assert job_name_for("/etc/init/.git/foo.conf", dirs) is None
    assert job_name_for("/etc/initx/foo.conf", dirs) is None
    assert job_name_for("/etc/init/.conf", dirs) is None


def test_session_dirs_defaults():
    env = {"HOME": "/home/u"}
    assert session_dirs(env) == [
        "/home/u/.config/upstart", "/home/u/.init", "/etc/xdg/upstart",
        "/usr/share/upstart/sessions"]


def test_session_dirs_from_xdg():
    env = {"HOME": "/home/u", "XDG_CONFIG_HOME": "/cfg",
           "XDG_CONFIG_DIRS": "/a:relative:/b", "UPSTART_NO_SYSTEM_USERCONFDIR": "1"}
    assert session_dirs(env) == ["/cfg/upstart", "/home/u/.init", "/a/upstart", "/b/upstart"]


def test_load_job_matches_load_sources(two):
    from upstart.jobfile.conf import load_job
    a, b = two
    write(a / "net/j.override", "env O=a\n")
    write(a / "net/j.conf", "bogus\n")
    write(b / "net/j.conf", "env C=b\n")
    res = load_job("net/j", [str(a), str(b)])
    full = load_sources([str(a), str(b)])
    assert res.classes["net/j"].env == ["C=b", "O=a"] == full.classes["net/j"].env
    assert res.errors == full.errors == [f"{a}/net/j.conf:1: Unknown stanza"]
    assert load_job("gone", [str(a), str(b)]).classes == {}


def test_source_that_is_not_a_directory_is_reported(tmp_path):
    notdir = write(tmp_path / "file", "x")
    res = load_sources([ConfSource(str(notdir))])
    assert res.errors == [f"{notdir}: Unable to load configuration: Not a directory"]
