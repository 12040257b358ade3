"""`make bench`: benchmarks against a real broker, appended to BENCHMARKS.md."""
