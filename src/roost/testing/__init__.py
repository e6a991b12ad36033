"""Test support: an embedded server for users' tests, simulators and checkers."""
