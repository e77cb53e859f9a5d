"""HTTP endpoints for operators' channel configuration and link tests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from service.auth.api import require
from service.auth.service import Principal
from service.context import AppContext, get_context
from service.db import transaction
from service.network import channels_service
from service.network.channels import ChannelsConfig
from service.network.models import Operator
from service.problems import Problem

router = APIRouter(prefix="/api/v1/operators", tags=["channels"])
Context = Annotated[AppContext, Depends(get_context)]
Admin = Annotated[Principal, Depends(require())]


def _not_found(operator_id: str) -> Problem:
    return Problem(404, "not-found", "No such operator", f"no operator '{operator_id}'")


@router.put("/{operator_id}/channels")
async def put_channels(
    operator_id: str, config: ChannelsConfig, context: Context, principal: Admin
) -> dict[str, Any]:
    """Set the operator's CBC endpoints and SMS gateways, in order of preference (admin)."""
    try:
        async with transaction(context.sessions) as session:
            await channels_service.set_channels(session, operator_id, config, actor=principal.actor)
    except channels_service.UnknownOperatorError as exc:
        raise _not_found(operator_id) from exc
    return config.public_view()


@router.get("/{operator_id}/channels")
async def get_channels(operator_id: str, context: Context, principal: Admin) -> dict[str, Any]:
    """The operator's channel configuration, secrets masked."""
    async with transaction(context.readers) as session:
        operator = await session.get(Operator, operator_id)
    if operator is None:
        raise _not_found(operator_id)
    return ChannelsConfig.model_validate(operator.channels).public_view()


@router.post("/{operator_id}/channels/check")
async def check_channels(
    operator_id: str, context: Context, principal: Admin
) -> list[dict[str, Any]]:
    """Link-test every configured CBC and gateway (nothing is broadcast or sent)."""
    async with transaction(context.readers) as session:
        operator = await session.get(Operator, operator_id)
    if operator is None:
        raise _not_found(operator_id)
    reports = await channels_service.check_links(operator, context.http)
    return [report.to_dict() for report in reports]
