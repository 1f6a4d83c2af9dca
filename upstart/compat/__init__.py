"""Compatibility with Upstart 1.13 itself: its serialised state (state113)."""
