"""Benchmarks, and the synthetic data they use; results go to docs/benchmarks.md."""
