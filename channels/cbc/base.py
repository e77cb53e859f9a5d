"""What every CBC adapter takes and returns, and the protocol they share.

The dispatcher talks to one `CellBroadcastCenter` per operator without
knowing which product sits behind it; what a product cannot do (cell lists on
osmo-cbc, for instance) is declared in `capabilities` so the planner can decide
before sending rather than discover it from an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from channels.cbs.message import CbsMessage


@dataclass(frozen=True)
class BroadcastTargets:
    """Where to broadcast. No cells and no tracking areas means the whole network (PLMN).

    `cells` are cell global identities as the operator's inventory names them;
    `warning_area` is the encoded WAC (see `channels.cbs.wac`) for phones that
    geofence.
    """

    cells: tuple[str, ...] = ()
    tracking_areas: tuple[str, ...] = ()
    warning_area: bytes | None = None

    @property
    def plmn_wide(self) -> bool:
        """Whether the targets name no cells and no areas, i.e. the whole network."""
        return not self.cells and not self.tracking_areas


@dataclass(frozen=True)
class BroadcastSchedule:
    """How often and how long. `num_broadcasts=0` means "until killed".

    `repetition_period_s` is in seconds (SBc-AP allows 0..4095 plus an
    extended range up to 131071); `expires_at` lets a CBC stop on its own if
    Tocsin's Kill never arrives.
    """

    repetition_period_s: int = 60
    num_broadcasts: int = 0
    expires_at: datetime | None = None
    warning_period_s: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.repetition_period_s <= 131071:
            raise ValueError(f"repetition period {self.repetition_period_s} s is outside 0..131071")
        if not 0 <= self.num_broadcasts <= 65535:
            raise ValueError(f"number of broadcasts {self.num_broadcasts} is outside 0..65535")


DEFAULT_SCHEDULE = BroadcastSchedule()


@dataclass(frozen=True)
class Submission:
    """A message the CBC accepted: enough to replace or cancel it later.

    `remote_ids` are what the CBC calls it (osmo-cbc: the message identifier;
    the generic API: one job key per request). `already_active` records that
    the CBC said the message already existed (osmo-cbc 409 on a retried POST),
    which Tocsin takes as its own earlier attempt.
    """

    cbc: str
    idempotency_key: str
    message_identifier: int
    serial_number: int
    remote_ids: tuple[str, ...]
    plmn_wide: bool = False
    already_active: bool = False


@dataclass(frozen=True)
class LinkStatus:
    """Result of a link test: can Tocsin reach the CBC right now, and how fast."""

    reachable: bool
    latency_s: float | None
    detail: str


@dataclass(frozen=True)
class CbcCapabilities:
    """What a CBC product can do; the planner consults this before sending."""

    max_pages: int = 15
    cell_lists: bool = True
    warning_area_coordinates: bool = True
    etws_with_text: bool = True
    status_callbacks: bool = True
    # osmo-cbc keys messages by identifier alone: a second live message with the
    # same identifier is refused (409), and a Kill by identifier stops either.
    one_message_per_identifier: bool = False


class CellBroadcastCenter(Protocol):
    """A CBC adapter: submit, replace (Write-Replace), cancel (Kill), link test.

    Every failure is `TransientChannelError` (worth retrying) or
    `PermanentChannelError`; nothing returns a bare bool.
    """

    kind: ClassVar[str]
    capabilities: ClassVar[CbcCapabilities]

    async def submit(
        self,
        message: CbsMessage,
        *,
        targets: BroadcastTargets,
        idempotency_key: str,
        schedule: BroadcastSchedule = DEFAULT_SCHEDULE,
    ) -> Submission:
        """Start broadcasting `message`; retrying with the same key must not duplicate it."""
        ...

    async def replace(
        self,
        submission: Submission,
        message: CbsMessage,
        *,
        targets: BroadcastTargets,
        schedule: BroadcastSchedule = DEFAULT_SCHEDULE,
    ) -> Submission:
        """Replace a live broadcast (same identifier and message code, new update number)."""
        ...

    async def cancel(self, submission: Submission) -> None:
        """Stop a broadcast; one that is already gone counts as stopped."""
        ...

    async def check(self) -> LinkStatus:
        """Test the link without changing anything on the CBC."""
        ...


def check_replacement(submission: Submission, message: CbsMessage) -> None:
    """Refuse a replacement that phones would not treat as an update of the same warning.

    Raises:
        ValueError: a different message identifier or message code, or the same update number.
    """
    old_code = (submission.serial_number >> 4) & 0x3FF
    old_update = submission.serial_number & 0xF
    serial = message.serial_number
    if message.message_identifier != submission.message_identifier:
        raise ValueError("a replacement keeps the message identifier")
    if serial.message_code != old_code:
        raise ValueError("a replacement keeps the message code")
    if serial.update_number == old_update:
        raise ValueError("a replacement needs a new update number (phones drop repeats)")
