"""osmo-cbc through its ECBE REST API (telecom.md §2).

What this adapter does differently from what the API invites, and why:

* Pages always go as `payload_encoded`, built by `channels.cbs`: osmo-cbc's
  own GSM-7 encoder packs across page boundaries and its UCS2 path is broken.
* ETWS uses `warning_type_encoded`: the decoded name for "both" is misspelt in
  the C code, so the correct spelling is refused.
* There is no replace verb: an update is DELETE then POST with the new update
  number. A POST can hang (a race in osmo-cbc), so the client gives up after
  `timeout_s` and tries once more; a 409 then means the first attempt landed.
* "No peers" is a 200 with an empty body after ~15 s: reported as transient,
  with that explanation, rather than as success. osmo-cbc keeps such a message
  stored, so the adapter DELETEs it first: the retry then creates it afresh
  instead of reading osmo-cbc's 409 as "already on the air".
* ECBE has no GET, so a 409 cannot be checked against osmo-cbc. It is taken as
  "already there" only when this adapter's own earlier POST of the same message
  had an unknown outcome (no answer) or was created; any other 409 (a leftover
  whose clean-up failed, a POST made before a restart) is resolved by deleting
  the stored message and creating it again, so that the answer is known.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from channels.cbc.base import (
    DEFAULT_SCHEDULE,
    BroadcastSchedule,
    BroadcastTargets,
    CbcCapabilities,
    LinkStatus,
    Submission,
    check_replacement,
)
from channels.cbc.transport import send, status_error
from channels.cbs.message import CbsMessage
from channels.cbs.serial import GeoScope
from channels.errors import PermanentChannelError, TransientChannelError

# osmo-cbc's names for the geographical scope (src/rest_api.c, geo_scope_vals).
GEO_SCOPE_NAMES = {
    GeoScope.CELL_WIDE_IMMEDIATE: "cell_wide_immediate",
    GeoScope.PLMN_WIDE: "plmn_wide",
    GeoScope.AREA_WIDE: "lac_sac_tac_wide",
    GeoScope.CELL_WIDE: "cell_wide",
}
API_PREFIX = "/api/ecbe/v1"


class EcbeConfig(BaseModel):
    """One osmo-cbc instance.

    `plmn_wide_for_cell_targets`: osmo-cbc only accepts `scope_plmn`. When
    true (the default) a message aimed at cells is broadcast network-wide (the
    submission says so: over-alerting beats not alerting); when false such a
    message is refused with a permanent error.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    cbe_name: str = "tocsin"
    category: Literal["normal", "high_priority", "background"] = "normal"
    timeout_s: float = Field(default=20.0, gt=0)
    post_attempts: int = Field(default=2, ge=1, le=5)
    plmn_wide_for_cell_targets: bool = True


class EcbeCbc:
    """`CellBroadcastCenter` for osmo-cbc's ECBE REST interface."""

    kind: ClassVar[str] = "osmo-cbc"
    capabilities: ClassVar[CbcCapabilities] = CbcCapabilities(
        cell_lists=False,
        warning_area_coordinates=False,
        etws_with_text=False,
        status_callbacks=False,
        one_message_per_identifier=True,
    )

    def __init__(self, config: EcbeConfig, client: httpx.AsyncClient) -> None:
        self._config = config
        self._client = client
        self._url = config.base_url.rstrip("/") + API_PREFIX
        # What this adapter posted that osmo-cbc may hold: message identifier ->
        # serial number. Only these make a 409 trustworthy (ECBE cannot be asked).
        self._posted: dict[int, int] = {}

    async def submit(
        self,
        message: CbsMessage,
        *,
        targets: BroadcastTargets,
        idempotency_key: str,
        schedule: BroadcastSchedule = DEFAULT_SCHEDULE,
    ) -> Submission:
        """POST the message; a 409 is "already there" only after our own earlier POST.

        The idempotency key is not sent (ECBE has none); osmo-cbc identifies a
        message by its message identifier. A 409 is read as an earlier attempt
        of ours when this adapter posted the same message (same identifier and
        serial number) and got no answer or a 201; otherwise the stored message
        is deleted and created again (see the module docstring).

        Raises:
            PermanentChannelError: cells were targeted and PLMN-wide fallback is
                off, or osmo-cbc refused the message (400).
            TransientChannelError: no peers, 5xx, timeout or connection failure.
        """
        if not targets.plmn_wide and not self._config.plmn_wide_for_cell_targets:
            raise PermanentChannelError("osmo-cbc can only broadcast PLMN-wide, cells were asked")
        already = await self._create(
            message.message_identifier,
            message.serial_number.encode(),
            ecbe_message(message, schedule, self._config),
        )
        return Submission(
            cbc=self.kind,
            idempotency_key=idempotency_key,
            message_identifier=message.message_identifier,
            serial_number=message.serial_number.encode(),
            remote_ids=(str(message.message_identifier),),
            plmn_wide=True,
            already_active=already,
        )

    async def replace(
        self,
        submission: Submission,
        message: CbsMessage,
        *,
        targets: BroadcastTargets,
        schedule: BroadcastSchedule = DEFAULT_SCHEDULE,
    ) -> Submission:
        """Kill the old broadcast, then create the new one (ECBE has no Write-Replace).

        Raises:
            ValueError: `message` is not an update of `submission` (see `check_replacement`).
            PermanentChannelError, TransientChannelError: as for `submit` and `cancel`.
        """
        check_replacement(submission, message)
        await self.cancel(submission)
        return await self.submit(
            message, targets=targets, idempotency_key=submission.idempotency_key, schedule=schedule
        )

    async def cancel(self, submission: Submission) -> None:
        """DELETE the message; 404 means it is already gone, which is what was wanted.

        A 200 with an empty body (no peers answered) is also accepted: with no
        peer connected nothing is on the air to stop.

        Raises:
            TransientChannelError: 5xx, timeout or connection failure.
            PermanentChannelError: any other refusal.
        """
        for remote_id in submission.remote_ids:
            await self._delete(remote_id)

    async def _delete(self, remote_id: str) -> None:
        what = f"osmo-cbc DELETE /message/{remote_id}"
        if remote_id.isdigit():
            self._posted.pop(int(remote_id), None)  # whatever happens, no longer known
        response = await send(
            self._client,
            "DELETE",
            f"{self._url}/message/{remote_id}",
            timeout_s=self._config.timeout_s,
            what=what,
        )
        if response.status_code not in (200, 204, 404):
            raise status_error(response, what)

    async def check(self) -> LinkStatus:
        """GET the message collection: osmo-cbc's 404 (no such verb) proves it is up."""
        started = time.monotonic()
        try:
            response = await send(
                self._client,
                "GET",
                f"{self._url}/message",
                timeout_s=self._config.timeout_s,
                what="osmo-cbc link test",
            )
        except TransientChannelError as exc:
            return LinkStatus(reachable=False, latency_s=None, detail=str(exc))
        latency = time.monotonic() - started
        return LinkStatus(True, latency, f"ECBE answered HTTP {response.status_code}")

    async def _create(self, message_id: int, serial: int, body: dict[str, Any]) -> bool:
        """POST, retrying on no answer. True when osmo-cbc already had our message.

        Raises:
            TransientChannelError: no answer to any attempt, no peers (the stored
                message is deleted first), or a 409 that stays after re-creating.
            PermanentChannelError: osmo-cbc refused the message.
        """
        what = "osmo-cbc POST /message"
        last: TransientChannelError | None = None
        recreated = False
        attempts = 0
        while attempts < self._config.post_attempts:
            attempts += 1
            try:
                response = await self._post(body, what)
            except TransientChannelError as exc:
                last = exc  # the POST may have landed: the next attempt's 409 will say so
                self._posted[message_id] = serial
                continue
            if response.status_code != 409:
                return await self._answered(message_id, serial, response, what)
            if self._posted.get(message_id) == serial:
                return True  # our own earlier POST of this very message landed
            if recreated:
                raise TransientChannelError(
                    f"{what}: HTTP 409 again after deleting message {message_id}:"
                    " osmo-cbc still holds it"
                )
            # Not known to be ours: delete what osmo-cbc holds and create it afresh.
            await self._delete(str(message_id))
            recreated = True
            attempts -= 1  # the re-creation is not a retry of a lost POST
        raise last or TransientChannelError(f"{what}: no attempt was made")

    async def _post(self, body: dict[str, Any], what: str) -> httpx.Response:
        return await send(
            self._client,
            "POST",
            f"{self._url}/message",
            timeout_s=self._config.timeout_s,
            what=what,
            json=body,
        )

    async def _answered(
        self, message_id: int, serial: int, response: httpx.Response, what: str
    ) -> bool:
        """Read a POST answer other than 409; on "no peers", delete the stored message."""
        if response.status_code == 200 and not response.content.strip():
            self._posted.pop(message_id, None)
            problem = (
                f"{what}: HTTP 200 with an empty body: osmo-cbc has no connected BSC/MME/AMF"
                " peer (its 15 s timer ran out); nothing is being broadcast"
            )
            try:
                await self._delete(str(message_id))
            except (TransientChannelError, PermanentChannelError) as exc:
                # Not in _posted: the next POST's 409 is not taken on trust.
                raise TransientChannelError(
                    f"{problem}; deleting the stored message failed too ({exc})"
                ) from exc
            raise TransientChannelError(problem)
        if 200 <= response.status_code < 300:
            self._posted[message_id] = serial
            return False
        self._posted.pop(message_id, None)
        raise status_error(response, what)


def ecbe_message(
    message: CbsMessage, schedule: BroadcastSchedule, config: EcbeConfig
) -> dict[str, Any]:
    """The ECBE JSON body, in the shape osmo-cbc's C parser actually reads (telecom.md §2.2).

    Raises:
        PermanentChannelError: the repetition period exceeds osmo-cbc's 0..4095.
    """
    if schedule.repetition_period_s > 4095:
        raise PermanentChannelError("osmo-cbc accepts repetition periods up to 4095")
    serial = message.serial_number
    body: dict[str, Any] = {
        "cbe_name": config.cbe_name,
        "category": config.category,
        "repetition_period": schedule.repetition_period_s,
        "num_of_bcast": schedule.num_broadcasts,
        "scope": {"scope_plmn": {}},
        "smscb_message": {
            "message_id": message.message_identifier,
            "serial_nr": {
                "serial_nr_decoded": {
                    "geo_scope": GEO_SCOPE_NAMES[serial.geo_scope],
                    "msg_code": serial.message_code,
                    "update_nr": serial.update_number,
                }
            },
            "payload": _payload(message),
        },
    }
    if schedule.warning_period_s is not None:
        body["warning_period_sec"] = min(schedule.warning_period_s, 65535)
    return body


def _payload(message: CbsMessage) -> dict[str, Any]:
    if message.etws is not None:
        return {
            "payload_etws": {
                "warning_type": {"warning_type_encoded": int(message.etws.warning_type)},
                "emergency_user_alert": message.etws.emergency_user_alert,
                "popup_on_display": message.etws.popup,
            }
        }
    pages = [page.content.hex().upper() for page in message.pages]
    return {"payload_encoded": {"dcs": message.dcs, "pages": pages}}
