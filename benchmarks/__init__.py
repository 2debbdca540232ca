"""Benchmarks: ``python -m benchmarks`` prints a table and writes ``benchmarks/results/latest.json``.

Separate from the tests and from CI: figures are printed, never asserted.
"""
