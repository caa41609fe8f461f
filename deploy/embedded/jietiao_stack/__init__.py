"""The embedded stack: the whole platform as local processes, no Docker."""
