"""The file bridge's pure logic: watch parsing, verbs, matching, rescans."""

import os

import pytest

from upstart.bridges import filewatch as fw


def W(*args, home=None):
    w = fw.parse_watch(args, home)
    assert isinstance(w, fw.Watch), w
    return w


def test_parse_kinds():
    assert W("FILE=/run/app.pid") == fw.Watch("/run/app.pid", "/run/app.pid", "file", None)
    assert W("FILE=/var/log/", "EVENT=delete") == fw.Watch("/var/log/", "/var/log", "dir",
                                                           "delete")
    g = W("FILE=/var/crash/*.crash", "EVENT=create")
    assert (g.kind, g.directory, g.pattern) == ("glob", "/var/crash", "*.crash")


def test_parse_errors():
    assert fw.parse_watch(("EVENT=create",)) == "Ignored file event without FILE"
    assert fw.parse_watch(("FILE=/x", "EVENT=created")) == \
        "Ignored file event with unknown EVENT=created"
    assert "relative" in fw.parse_watch(("FILE=x",))
    assert "glob outside" in fw.parse_watch(("FILE=/a*/b",))


@pytest.mark.parametrize("text", ["~/notes", "./notes", "notes"])
def test_user_relative_paths_resolve_against_home_but_keep_text(text):
    w = W("FILE=" + text, home="/home/u")
    assert (w.path, w.text) == ("/home/u/notes", text)


def test_tilde_user_is_not_supported():
    assert isinstance(fw.parse_watch(("FILE=~bob/x",), "/home/u"), str)


def test_events_for_file_watch():
    w = W("FILE=/run/app.pid")
    assert fw.events_for(w, "/run/app.pid", "create") == [("FILE=/run/app.pid", "EVENT=create")]
    assert fw.events_for(w, "/run/other", "create") == []


def test_events_for_respects_event_filter():
    w = W("FILE=/run/app.pid", "EVENT=delete")
    assert fw.events_for(w, "/run/app.pid", "create") == []
    assert fw.events_for(w, "/run/app.pid", "delete") == [("FILE=/run/app.pid", "EVENT=delete")]


def test_events_for_glob_carries_match():
    w = W("FILE=/var/crash/*.crash")
    assert fw.events_for(w, "/var/crash/a.crash", "modify") == [
        ("FILE=/var/crash/*.crash", "EVENT=modify", "MATCH=/var/crash/a.crash")]
    assert fw.events_for(w, "/var/crash/a.txt", "modify") == []
    assert fw.events_for(w, "/var/crash/sub/a.crash", "modify") == []


def test_events_for_directory_itself_and_entries():
    w = W("FILE=/srv/in/")
    assert fw.events_for(w, "/srv/in", "create") == [("FILE=/srv/in/", "EVENT=create")]
    assert fw.events_for(w, "/srv/in", "delete") == [("FILE=/srv/in/", "EVENT=delete")]
    # as 1.13's bridge: any change of an entry is a modification of the directory
    for verb in fw.VERBS:
        assert fw.events_for(w, "/srv/in/x", verb) == [
            ("FILE=/srv/in/", "EVENT=modify", "MATCH=/srv/in/x")]
    assert fw.events_for(w, "/srv/in/x/y", "delete") == []
    assert fw.events_for(W("FILE=/srv/in/", "EVENT=create"), "/srv/in/x", "create") == []
    assert fw.events_for(W("FILE=/srv/in/", "EVENT=delete"), "/srv/in/x", "delete") == []
    assert fw.events_for(W("FILE=/srv/in/", "EVENT=modify"), "/srv/in/x", "delete") == [
        ("FILE=/srv/in/", "EVENT=modify", "MATCH=/srv/in/x")]


def test_initial_event_of_a_directory_is_for_the_directory_only(tmp_path):
    (tmp_path / "entry").write_text("")
    got = fw.initial_events(W("FILE=%s/" % tmp_path), os.path.lexists, os.listdir)
    assert got == [("FILE=%s/" % tmp_path, "EVENT=create")]


def test_watched_directory_walks_up_to_an_existing_ancestor():
    existing = {"/", "/srv"}
    w = W("FILE=/srv/a/b/file")
    assert fw.watched_directory(w, existing.__contains__) == "/srv"
    existing.add("/srv/a/b")
    assert fw.watched_directory(w, existing.__contains__) == "/srv/a/b"
    assert fw.watched_directory(W("FILE=/srv/d/"), existing.__contains__) == "/srv"


def test_initial_events_only_for_create_or_any(tmp_path):
    (tmp_path / "a.log").write_text("")
    (tmp_path / "b.log").write_text("")
    (tmp_path / "c.txt").write_text("")
    glob = W("FILE=%s/*.log" % tmp_path)
    got = fw.initial_events(glob, os.path.lexists, os.listdir)
    assert [e[2] for e in got] == ["MATCH=%s/a.log" % tmp_path, "MATCH=%s/b.log" % tmp_path]
    assert all(e[1] == "EVENT=create" for e in got)
    assert fw.initial_events(W("FILE=%s/*.log" % tmp_path, "EVENT=delete"),
                             os.path.lexists, os.listdir) == []
    assert fw.initial_events(W("FILE=%s/none" % tmp_path), os.path.lexists, os.listdir) == []


def test_snapshot_and_diff(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "keep").write_text("")
    (d / "gone").write_text("")
    watches = [W("FILE=%s/" % d), W("FILE=%s/missing" % tmp_path)]
    before = fw.snapshot(watches, os.path.lexists, os.listdir)
    assert before == {str(d), str(d / "keep"), str(d / "gone")}
    (d / "gone").unlink()
    (d / "new").write_text("")
    after = fw.snapshot(watches, os.path.lexists, os.listdir)
    assert fw.diff(before, after) == [(str(d / "new"), "create"), (str(d / "gone"), "delete")]


def test_tracker_new_file_is_create_at_first_close_only():
    t = fw.ChangeTracker()
    assert t.feed("/d/f", fw.IN_CREATE) is None
    assert t.feed("/d/f", fw.IN_CLOSE_WRITE) == "create"
    assert t.feed("/d/f", fw.IN_CLOSE_WRITE) == "modify"
    assert t.feed("/d/f", fw.IN_DELETE) == "delete"


def test_tracker_dirs_moves_and_unclosed_files():
    t = fw.ChangeTracker()
    assert t.feed("/d/sub", fw.IN_CREATE | fw.IN_ISDIR) == "create"
    assert t.feed("/d/m", fw.IN_MOVED_TO) == "create"
    assert t.feed("/d/m", fw.IN_MOVED_FROM) == "delete"
    assert t.feed("/d/tmp", fw.IN_CREATE) is None
    assert t.feed("/d/tmp", fw.IN_DELETE) is None      # never announced, never deleted


def test_tracker_is_bounded():
    t = fw.ChangeTracker(limit=2)
    assert t.feed("/a", fw.IN_CREATE) is None
    assert t.feed("/b", fw.IN_CREATE) is None
    assert t.feed("/c", fw.IN_CREATE) == "create"
    assert len(t.fresh) == 2
