"""Per-run state that every compiled sampler shares: the random source and the clock.

Reproducibility rests on two rules: all randomness comes from one
``random.Random(seed)`` through ``random()`` and ``getrandbits()`` only (their
algorithms are fixed across Python versions and machines), and with a seed the
clock is frozen, so ``$now``, ObjectId timestamps and "current year" defaults
do not depend on when the run happens. (One caveat: $normal / $gauss use
math.log, whose last bit could differ between C maths libraries.)
"""
from __future__ import annotations

import os
import random
import time
from datetime import datetime, timezone

from bson import ObjectId

# The frozen clock of seeded runs (override with ``now=``).
SEEDED_NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)


def epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // _ONE_MS


_ONE_MS = datetime.resolution * 1000


class Context:
    """The random source, the clock and the ObjectId sequence of one generation run."""

    def __init__(self, seed: int | None = None, now: datetime | None = None) -> None:
        self.seed = seed
        if seed is None:
            seed = int.from_bytes(os.urandom(16), "big")
        self.rng = random.Random(seed)
        self.random = self.rng.random
        self.getrandbits = self.rng.getrandbits
        if now is None and self.seed is not None:
            now = SEEDED_NOW
        self._frozen_ms = None if now is None else epoch_ms(now)
        # ObjectId = 4-byte seconds + 5 random bytes per run + 3-byte counter,
        # the layout MongoDB drivers use, drawn from the seeded generator.
        self._oid_middle = self.getrandbits(40).to_bytes(5, "big")
        self._oid_counter = self.getrandbits(24)

    def now_ms(self) -> int:
        """Milliseconds since the epoch: frozen in seeded runs, the wall clock otherwise."""
        if self._frozen_ms is not None:
            return self._frozen_ms
        return time.time_ns() // 1_000_000

    def objectid(self) -> ObjectId:
        self._oid_counter = (self._oid_counter + 1) & 0xFFFFFF
        seconds = (self.now_ms() // 1000) & 0xFFFFFFFF
        return ObjectId(seconds.to_bytes(4, "big") + self._oid_middle + self._oid_counter.to_bytes(3, "big"))

    def below(self, span: int) -> int:
        """A uniform integer in [0, span); exact for any size of span."""
        if span <= 1 << 32:
            return int(self.random() * span)
        bits = span.bit_length()
        while True:
            value = self.getrandbits(bits)
            if value < span:
                return value
