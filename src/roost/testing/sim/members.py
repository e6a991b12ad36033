"""The members a simulated run can have (founders and joiners), with addresses nobody dials."""

from __future__ import annotations

from roost.replica.member import Member

#: the most members a run can have: 7 founders and 3 joiners
MAX_MEMBERS = 10
SIM_MEMBERS = tuple(Member(i, "sim", 2000 + i, 3000 + i) for i in range(1, MAX_MEMBERS + 1))
