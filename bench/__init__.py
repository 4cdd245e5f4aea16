"""The benchmark: bench/run.py and what it measures with (see bench/README.md)."""
