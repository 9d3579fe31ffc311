"""Reproducible benchmarks: `python -m bench <name> [--rows N ...]` prints a table and writes bench/results/<name>.json.

Benchmarks may import anything in `app`; nothing imports `bench`.
"""
