"""The peers' services. Each module here is served from an interpreter that may have only
its own framework installed, so nothing here imports the rest of the benchmark (see
bench/peer_targets.py for how they are found and run)."""
