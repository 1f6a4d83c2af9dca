"""Chroot sessions: which root a caller has (`caller_root`), against real
processes that the test chroots itself (os.fork + os.chroot)."""

from __future__ import annotations

import os
import tempfile

import pytest

from upstart.daemon.sessions import caller_root, root_id

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")


class Chrooted:
    """A child process that chroots to `path` and waits until closed."""

    def __init__(self, path: str):
        ready_r, ready_w = os.pipe()
        hold_r, hold_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:   # pragma: no cover - the child
            try:
                os.close(ready_r)
                os.close(hold_w)
                os.chroot(path)
                os.write(ready_w, b"y")
                os.read(hold_r, 1)      # until the test closes its end
            finally:
                os._exit(0)
        os.close(ready_w)
        os.close(hold_r)
        self._hold_w = hold_w
        assert os.read(ready_r, 1) == b"y"
        os.close(ready_r)

    def close(self) -> None:
        os.close(self._hold_w)
        os.waitpid(self.pid, 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def tmpdir_real():
    path = os.path.realpath(tempfile.mkdtemp(prefix="upstart-chroot-"))
    yield path
    os.rmdir(path)


def test_own_process_and_unknown_pids_are_global():
    assert caller_root(os.getpid()) is None
    assert caller_root(0) is None
    assert caller_root(-5) is None
    with Chrooted("/") as child:
        pass
    assert caller_root(child.pid) is None      # gone: unreadable, so global


def test_a_chrooted_process_has_its_root_as_init_sees_it(tmpdir_real):
    with Chrooted(tmpdir_real) as child:
        assert caller_root(child.pid) == tmpdir_real
        # compared with the root given as init's own, the same process is global
        assert caller_root(child.pid, own=root_id(tmpdir_real)) is None


def test_the_same_root_by_another_name_is_global(tmpdir_real):
    # chroot through a symlink to `/`: the process's root is init's root; the
    # comparison is by device and inode, not by the text of the path
    link = os.path.join(tmpdir_real, "slash")
    os.symlink("/", link)
    try:
        with Chrooted(link) as child:
            assert os.stat(f"/proc/{child.pid}/root").st_ino == os.stat("/").st_ino
            assert caller_root(child.pid) is None
    finally:
        os.unlink(link)


def test_nested_roots_are_keyed_by_their_full_path(tmpdir_real):
    inner = os.path.join(tmpdir_real, "a", "b")
    os.makedirs(inner)
    try:
        with Chrooted(inner) as child, Chrooted(tmpdir_real) as outer:
            assert caller_root(child.pid) == inner
            assert caller_root(outer.pid) == tmpdir_real
    finally:
        os.rmdir(inner)
        os.rmdir(os.path.dirname(inner))
