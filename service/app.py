"""The FastAPI application: routers, problem handlers, and the context lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.alerts.api import router as alerts_router
from service.areas.api import router as jurisdictions_router
from service.audit.api import router as audit_router
from service.auth.all_clear_api import router as all_clear_router
from service.collector import freeze_long_lived
from service.context import AppContext, open_context
from service.delivery.cbc_status_api import router as cbc_status_router
from service.delivery.operator_jobs_api import router as operator_jobs_router
from service.delivery.receipts_api import router as receipts_router
from service.delivery.tracking_api import router as delivery_router
from service.network.api import router as operators_router
from service.network.channels_api import router as channels_router
from service.network.targeting_api import router as targeting_router
from service.operations import router as operations_router
from service.problems import install_problem_handlers
from service.settings import Settings
from service.web.api import router as web_router


def create_app(settings: Settings | None = None, *, context: AppContext | None = None) -> FastAPI:
    """Build the API. Pass `context` to share one already opened (tests, the demo)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What exists at start-up lives as long as the process; leaving it out of
        # every collection took a quarter of the receipt path's time (bench/sms.py).
        if context is not None:
            app.state.context = context
            freeze_long_lived()
            yield
            return
        async with open_context(settings or Settings()) as opened:
            app.state.context = opened
            freeze_long_lived()
            yield

    app = FastAPI(
        title="Tocsin",
        version="0.1.0",
        summary="Mobile early-warning dispatch: CAP in, cell broadcast and SMS out.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(alerts_router)
    app.include_router(audit_router)
    app.include_router(operators_router)
    app.include_router(targeting_router)
    app.include_router(jurisdictions_router)
    app.include_router(all_clear_router)
    app.include_router(channels_router)
    app.include_router(delivery_router)
    app.include_router(receipts_router)
    app.include_router(cbc_status_router)
    app.include_router(operator_jobs_router)
    app.include_router(operations_router)
    app.include_router(web_router)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    return app
