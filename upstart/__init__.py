"""upstart-py: the Upstart 1.13 init system, in Python."""
VERSION = "1.13.2"

