"""The benchmark harness (`hyeopchi bench`): replay, pipeline, latency, store appends,
memory — measured on a real broker it starts itself, written to bench/results/."""
