"""Fault suite (issue #14): make faults_common importable."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
