"""Every SQLModel table, imported in one place for Alembic and the drift test."""

from __future__ import annotations

from sqlmodel import SQLModel

from service.alerts import models as alerts_models
from service.areas import models as areas_models
from service.audit import models as audit_models
from service.auth import models as auth_models
from service.delivery import models as delivery_models
from service.dispatch import models as dispatch_models
from service.network import models as network_models
from service.queue import models as queue_models
from service.recipients import models as recipients_models

FEATURE_MODELS = (
    alerts_models,
    areas_models,
    audit_models,
    auth_models,
    delivery_models,
    dispatch_models,
    network_models,
    queue_models,
    recipients_models,
)

metadata = SQLModel.metadata
