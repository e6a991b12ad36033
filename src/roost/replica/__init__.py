"""The replica core: the replicated server's logic with no I/O.

Time, randomness, network and disk are its inputs; `roost.server` hosts it (sockets, the
event loop, the fsync thread) and `roost.testing.sim` drives the same code under simulation.
Imports point down only: wire, tree, raft and storage's format code.
"""
