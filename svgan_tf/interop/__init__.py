"""The reference implementation's formats: parameter names and its pickled snapshots."""
