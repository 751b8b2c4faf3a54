"""Helpers the tests share: real input slices, broken inputs, synthetic corpora."""
