"""Location-based SMS done by the operator: one job per alert and operator.

The operator's network knows which handsets are in which cells; we send the
cell list, the texts per language and the expiry, and the operator fans out.
The request format is the generic JSON gateway's `/v1/location-jobs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from channels.errors import PermanentChannelError
from channels.sms.encoding import encode_sms
from channels.sms.wire import LocationJob


@dataclass(frozen=True, slots=True)
class LocationSms:
    """Texts for every handset in `cells` of `operator`, until `expires_at`.

    `correlation_id` is ours (receipts and idempotency); `alert_ref` is the
    CAP reference shown to the operator; `texts` maps language codes to text.
    """

    correlation_id: str
    alert_ref: str
    operator: str
    cells: Sequence[str]
    texts: Mapping[str, str]
    default_language: str
    expires_at: datetime
    sender: str | None = None


def location_job_body(
    job: LocationSms, *, sender: str | None, callback_url: str | None, max_segments: int
) -> bytes:
    """The JSON body for POST /v1/location-jobs.

    Raises:
        PermanentChannelError: no cells, no texts, or no text for the default language.
        SegmentLimitExceeded: a text needs more than `max_segments` segments.
        EmptySmsError: a text is empty.
    """
    if not job.cells:
        raise PermanentChannelError(f"location job {job.correlation_id} has no cells")
    if job.default_language not in job.texts:
        raise PermanentChannelError(
            f"location job {job.correlation_id} has no text for {job.default_language!r}"
        )
    for text in job.texts.values():
        encode_sms(text, max_segments=max_segments)
    wire = LocationJob(
        correlation_id=job.correlation_id,
        alert_ref=job.alert_ref,
        operator=job.operator,
        cells=list(job.cells),
        texts=dict(job.texts),
        default_language=job.default_language,
        expires_at=job.expires_at,
        sender=sender,
        callback_url=callback_url,
    )
    return wire.model_dump_json(by_alias=True, exclude_none=True).encode()
