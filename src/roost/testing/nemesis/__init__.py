"""The nemesis harness: a real ensemble under seeded faults, concurrent clients recording a
history, and the checks that nothing acknowledged was lost (see docs/verification.md).

    from roost.testing.nemesis import VerifyConfig, run
    result = run(VerifyConfig(members=3, seconds=30, seed=7))
    print(result.summary())
    assert result.ok
"""

from roost.testing.nemesis.runner import VerifyConfig, VerifyResult, run
from roost.testing.nemesis.schedule import KINDS, Fault, make_schedule, parse_kinds

__all__ = ["KINDS", "Fault", "VerifyConfig", "VerifyResult", "make_schedule", "parse_kinds",
           "run"]
