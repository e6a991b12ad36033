"""Kinds of simulation events (the heap holds (time, seq, kind, argument))."""

(TICK, DELIVER, FAULT, PROPOSE, READ, MEMBER, RESTART, HEAL, CRASH_NOW, PHASE, CLIENT,
 STORM, DISK, CLIENT_TURN, CLIENT_OUTPUT, STREAM, LINK, CAMPAIGN, CLIENT_CONNECT) = range(19)
