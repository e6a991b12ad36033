"""Test support: an embedded server for users' tests, simulators and checkers.

``from roost.testing.server import RoostServer`` starts a real server; the pytest
fixture ``roost_server`` is registered automatically when roost is installed.
"""
