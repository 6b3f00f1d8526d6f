"""The reference implementation's formats: parameter names, and its pickles and archives read as data only."""
