"""The file source on a real inotify fd and a real loop: a path that appears
later, levels of missing directories, globs, a watched directory removed."""

from __future__ import annotations

import os
import shutil


from waiting import spin_until
from upstart.reactor.futures import sleep
from upstart.readiness.filesrc import FileWatcher, find, nearest_dir
from upstart.readiness.spec import FileSpec


def spin(loop, seconds=0.05):
    loop.run_until_complete(sleep(loop, seconds))


def make(loop, logs=None):
    return FileWatcher(loop, lambda prio, msg: (logs if logs is not None else []).append(msg))


def test_nearest_dir_and_find(tmp_path):
    assert nearest_dir(str(tmp_path / "a" / "b")) == str(tmp_path)
    (tmp_path / "a").mkdir()
    assert nearest_dir(str(tmp_path / "a" / "b")) == str(tmp_path / "a")
    assert find(FileSpec(str(tmp_path / "a" / "f"))) is None
    (tmp_path / "a" / "f").write_text("")
    assert find(FileSpec(str(tmp_path / "a" / "f"))) == str(tmp_path / "a" / "f")
    (tmp_path / "a" / "x.sock").write_text("")
    assert find(FileSpec(str(tmp_path / "a" / "*.sock"))) == str(tmp_path / "a" / "x.sock")


def test_existing_path_fires_at_once_and_keeps_inotify_open(loop, tmp_path):
    target = tmp_path / "here"
    target.write_text("")
    w = make(loop)
    fired = []
    w.add("k", FileSpec(str(target)), fired.append)
    assert fired == [str(target)]
    assert w.keys() == [] and w._ino is not None   # closing would stall the loop (SRCU)
    assert w._by_wd == {}                            # but no kernel watch is left
    w.close()
    assert w._ino is None


def test_path_under_missing_directories_fires_when_created(loop, tmp_path):
    target = tmp_path / "a" / "b" / "c" / "ready"
    w = make(loop)
    fired = []
    w.add("k", FileSpec(str(target)), fired.append)
    spin(loop)
    assert fired == []
    os.makedirs(target.parent)
    spin(loop)
    assert fired == []
    assert w._watches["k"].directory == str(target.parent)   # climbed down as dirs appeared
    target.write_text("x")
    assert spin_until(loop, lambda: fired)
    assert fired == [str(target)]
    spin(loop)
    assert fired == [str(target)]   # once only


def test_rename_into_place_counts(loop, tmp_path):
    target = tmp_path / "pidfile"
    tmp = tmp_path / "pidfile.tmp"
    w = make(loop)
    fired = []
    w.add("k", FileSpec(str(target)), fired.append)
    tmp.write_text("1")
    spin(loop)
    assert fired == []
    os.rename(tmp, target)
    assert spin_until(loop, lambda: fired)


def test_glob_matches_first_entry(loop, tmp_path):
    w = make(loop)
    fired = []
    w.add("k", FileSpec(str(tmp_path / "*.sock")), fired.append)
    (tmp_path / "a.log").write_text("")
    spin(loop)
    assert fired == []
    (tmp_path / "b.sock").write_text("")
    assert spin_until(loop, lambda: fired)
    assert fired == [str(tmp_path / "b.sock")]


def test_removed_watch_never_fires(loop, tmp_path):
    w = make(loop)
    fired = []
    w.add("a", FileSpec(str(tmp_path / "a")), fired.append)
    w.add("b", FileSpec(str(tmp_path / "b")), fired.append)
    w.remove("a")
    (tmp_path / "a").write_text("")
    (tmp_path / "b").write_text("")
    assert spin_until(loop, lambda: fired)
    spin(loop)
    assert fired == [str(tmp_path / "b")]
    assert w._by_wd == {}


def test_watched_directory_removed_and_recreated(loop, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    target = d / "f"
    w = make(loop)
    fired = []
    w.add("k", FileSpec(str(target)), fired.append)
    shutil.rmtree(d)
    spin(loop)
    assert w._watches["k"].directory == str(tmp_path)   # climbed back up
    d.mkdir()
    target.write_text("")
    assert spin_until(loop, lambda: fired)
    assert fired == [str(target)]
