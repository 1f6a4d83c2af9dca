"""The udev bridge's event names, env order and stripping."""

import pytest

from upstart.bridges.udev_env import event_name, strip, udev_env


def test_event_names():
    assert event_name("net", "add") == "net-device-added"
    assert event_name("block", "change") == "block-device-changed"
    assert event_name("usb", "remove") == "usb-device-removed"
    assert event_name("net", "move") == "net-device-move"
    assert event_name("cpu", "online") == "cpu-device-online"


def test_env_order_and_skipped_properties():
    props = [("ACTION", "add"), ("DEVNAME", "/dev/sda"), ("DEVPATH", "/devices/x/sda"),
             ("DEVTYPE", "disk"), ("ID_FS_TYPE", "ext4"), ("SEQNUM", "7"),
             ("SUBSYSTEM", "block")]
    assert udev_env("sda", "/devices/x/sda", "/dev/sda", "block", "add", props) == [
        "KERNEL=sda", "DEVPATH=/devices/x/sda", "DEVNAME=/dev/sda", "SUBSYSTEM=block",
        "ACTION=add", "DEVTYPE=disk", "ID_FS_TYPE=ext4", "SEQNUM=7"]


def test_no_devname_without_a_node():
    env = udev_env("eth0", "/devices/net/eth0", None, "net", "add", [("INTERFACE", "eth0")])
    assert env == ["KERNEL=eth0", "DEVPATH=/devices/net/eth0", "SUBSYSTEM=net", "ACTION=add",
                   "INTERFACE=eth0"]


def test_strip_keeps_printable_ascii_and_blanks():
    assert strip("a\x01b\tc d\x7f\né") == "ab\tc d"


def test_stripping_applies_to_names_and_values_unless_no_strip():
    props = [("ID_\x02X", "v\x01al")]
    assert udev_env("k", "/d", None, "s", "add", props)[-1] == "ID_X=val"
    assert udev_env("k", "/d", None, "s", "add", props, no_strip=True)[-1] == "ID_\x02X=v\x01al"


def test_the_bridge_reads_properties_as_pyudevs_mapping_gives_them():
    """One walk of libudev's list (the bridge) = a lookup per name (pyudev), on
    this machine's own devices: same names, values and order."""
    import pyudev

    from upstart.bridges.udev import UdevBridge
    devices = list(pyudev.Context().list_devices())
    if not devices:
        pytest.skip("no devices in this machine's udev database")
    for d in devices:
        assert UdevBridge.properties(d) == [(k, str(d.properties[k])) for k in d.properties]
