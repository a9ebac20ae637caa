"""One-off research scripts: each answers a question the research log (docs/research/) quotes, with the command
beside the figure. `make bench` does not run them; `benchmarks/` holds what it runs (and the helpers both share)."""
