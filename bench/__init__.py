"""Benchmarks for Summit Watch (run from the repository root, e.g. `python -m bench.fanout`)."""
