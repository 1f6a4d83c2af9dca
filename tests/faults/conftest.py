"""Fault suite (issue #14): make tests/e2e's init harness importable."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
