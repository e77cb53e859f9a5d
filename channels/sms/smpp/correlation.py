"""Matching receipts to what we submitted, even when the SMSC changes the id's base.

Many SMSCs give the id in submit_sm_resp in hex and the id in the receipt in
decimal, or the reverse (telecom.md §3.2; Kannel has `msg-id-type` for it).
The index tries the id as given first, then its other base, so one config
works for both kinds of SMSC.
"""

from __future__ import annotations

import string
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

IdMatch = Literal["auto", "exact"]
_HEX = frozenset(string.hexdigits)


@dataclass(frozen=True, slots=True)
class SubmittedSegment:
    """Which message (and which of its segments) an SMSC message id belongs to."""

    correlation_id: str
    segment: int


def _normalized(message_id: str) -> str:
    """Case and leading zeros carry no meaning in ids (`0000ABC` = `abc`)."""
    return message_id.strip().lower().lstrip("0") or "0"


def id_variants(message_id: str, match: IdMatch = "auto") -> list[str]:
    """Normalized forms to look up, best first: as given, then read in the other base."""
    given = _normalized(message_id)
    variants = [given]
    if match == "exact" or len(given) > 32:
        return variants
    if given.isdigit():
        variants.append(format(int(given), "x"))
    if all(ch in _HEX for ch in given):
        variants.append(str(int(given, 16)))
    return list(dict.fromkeys(variants))


class MessageIdIndex:
    """SMSC message id -> submitted segment, bounded by `capacity` (oldest dropped first).

    Bounded because receipts can fail to arrive; the service also stores the
    ids from `SubmitResult`, so a dropped entry only costs the fast path.
    """

    def __init__(self, *, capacity: int = 500_000, match: IdMatch = "auto") -> None:
        self._entries: OrderedDict[str, SubmittedSegment] = OrderedDict()
        self._capacity = capacity
        self._match = match

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, message_id: str, segment: SubmittedSegment) -> None:
        self._entries[_normalized(message_id)] = segment
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def find(self, message_id: str, *, remove: bool = False) -> SubmittedSegment | None:
        """The segment a receipt id refers to; `remove` once the receipt is final."""
        for variant in id_variants(message_id, self._match):
            found = self._entries.get(variant)
            if found is not None:
                if remove:
                    del self._entries[variant]
                return found
        return None
