"""An alert's SMS batches, planned by their own job once its broadcasts have left.

Planning writes one `SmsMessage` row per recipient: for a national subscriber
base that is seconds of inserts. Done in the transaction that plans the
broadcasts, every CBC would wait for them (the broadcasts are relayed only
after that commit). So the first transaction plans the broadcasts, marks the
alert `sms_pending` and stages this job in the outbox; the job plans the SMS
in its own transaction (`service.plan_pending_sms`). Until it has, the alert
is not done dispatching (`progress.settle`). A Cancel or Update of the chain
meanwhile takes the mark off: the superseded text is never planned.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.alerts.models import Alert
from service.dispatch.progress import settle
from service.queue.names import Queue
from service.queue.outbox import add_job

SMS_PLAN_JOB = "plan_sms"


def schedule_sms_planning(session: AsyncSession, alert: Alert, *, tag: str | None = None) -> str:
    """Mark the alert and stage the job that plans its SMS (caller's transaction)."""
    alert.sms_pending = True
    session.add(alert)
    job_id = sms_planning_job_id(alert.id) + (f":{tag}" if tag else "")
    add_job(session, queue=Queue.SMS, function=SMS_PLAN_JOB, job_id=job_id, args=[alert.id])
    return job_id


def sms_planning_job_id(alert_id: str) -> str:
    """The first plan job's id; a re-staged one adds `:<tag>`."""
    return f"plan-sms:{alert_id}"


async def drop_pending_sms(session: AsyncSession, chains: Collection[str], *, but: str) -> None:
    """A Cancel or Update of `chains`: the earlier alerts' SMS are no longer to be planned."""
    query = (
        select(Alert)
        .where(col(Alert.chain_id).in_(list(chains)), Alert.id != but, col(Alert.sms_pending))
        .with_for_update()
    )
    for alert in (await session.exec(query)).all():
        alert.sms_pending = False
        session.add(alert)
        await settle(session, alert)
