"""Golden conformance tests: replay Upstart 1.13.2 transcripts against our init."""
