"""An operator's stored channels config, read for planning one operator at a time."""

from __future__ import annotations

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from service.dispatch import events
from service.network.channels import ChannelsConfig
from service.network.models import Operator


def channels_of(session: AsyncSession, alert_id: str, operator: Operator) -> ChannelsConfig | None:
    """The operator's channels config, or None (with a `dispatch.skipped` event) if invalid.

    A config stored before a validator got stricter may no longer pass: that
    operator is skipped, loudly, and every other operator is still planned.
    """
    try:
        return ChannelsConfig.model_validate(operator.channels)
    except ValidationError as exc:
        reason = f"the operator's stored channels config is invalid: {exc}"[:1000]
        events.record(
            session, "dispatch.skipped", alert_id=alert_id, operator_id=operator.id, reason=reason
        )
        return None
