"""Benchmark tooling: the community Thai pipeline and `make bench-nlu` (bench/run.py)."""
