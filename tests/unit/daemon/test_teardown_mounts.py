"""PID 1's teardown (upstart/daemon/teardown.py): which mounts it sees, in
which order; the kill/unmount steps themselves run in the Debian VM test
(tests/vm/test_vm_debian.py: e2fsck and the superblock clean after poweroff)."""

from __future__ import annotations

from upstart.daemon import teardown

MOUNTINFO = """\
22 1 254:0 / / ro,relatime shared:1 - ext4 /dev/vda ro,errors=remount-ro
23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw
24 22 0:5 / /dev rw,nosuid shared:3 - devtmpfs udev rw,size=487k
30 22 0:30 / /tmp rw shared:9 - tmpfs tmpfs rw
31 22 254:16 / /srv/my\\040data rw shared:10 - ext4 /dev/vdb rw
"""


def test_mounts_in_mount_order_with_escaped_names(tmp_path):
    path = tmp_path / "mountinfo"
    path.write_text(MOUNTINFO)
    got = teardown.mounts(str(path))
    assert got == [("/", "ext4"), ("/proc", "proc"), ("/dev", "devtmpfs"), ("/tmp", "tmpfs"),
                   ("/srv/my data", "ext4")]
    real = [p for p, t in reversed(got) if t not in teardown.VIRTUAL]
    assert real == ["/srv/my data", "/"]            # unmounted innermost first, / last
    assert teardown.mounts(str(tmp_path / "missing")) == []
