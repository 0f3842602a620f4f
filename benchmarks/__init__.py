"""Rentian's figures next to bare references and peers, measured in the same run
(`make bench`; docs/benchmarks.md). Not tests: nothing here asserts in `make test`."""
