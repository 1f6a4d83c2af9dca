"""A fresh init restores a snapshot before it has made any JobClass: the
record's fields (upstart/records.py) are known before its methods are made
at its first instance, so a stateful re-exec does not fall back to a
stateless one."""

import subprocess
import sys


def test_class_from_json_in_a_fresh_interpreter():
    code = ("from upstart.core.snapshot import class_from_json\n"
            "print(class_from_json({'name': 'x', 'task': True}).task)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
