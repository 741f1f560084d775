"""`make bench`: throughput and latency of flexreg endpoints as ratios to baselines measured in the same run."""
