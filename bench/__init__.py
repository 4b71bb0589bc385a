"""Benchmarks that print numbers. Never imported by the app or asserted in the test suite."""
