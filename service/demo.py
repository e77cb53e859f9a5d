"""`tocsin demo`: a walkthrough on embedded defaults for a newcomer.

It registers a demo agency, two operators with synthetic networks whose
channels are in-process simulators, then posts a real CAP alert (made
current), its Update and its Cancel over real HTTP to the running API, and
shows each one's delivery live.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from lxml import etree
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from service.auth import service as auth
from service.auth.models import Role
from service.context import AppContext
from service.db import transaction
from service.demo_network import Simulators, provision_network

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
DEMO_ALERT = "is-imo.xml"  # Icelandic and English: two languages, two alphabets
DEMO_AGENCY = "Demo agency (Icelandic Met Office)"
CAP_HEADERS = {"Content-Type": "application/cap+xml"}
WATCH_TIMEOUT_S = 60.0
WATCH_POLL_S = 0.2


@dataclass(frozen=True)
class DemoCredentials:
    sender_key: str
    manager_key: str


def demo_alerts(now: dt.datetime) -> tuple[bytes, bytes, bytes]:
    """The bundled alert made current (sent now, expiring in 6 hours), its Update and its Cancel.

    A fresh identifier per run: each run dispatches for real (to the simulators).
    """
    original = resources.files("service.demo_data").joinpath(DEMO_ALERT).read_bytes()
    current = make_current(original, now)
    update = make_update(current, "Fire update: the fire is now under control.")
    cancel = make_update(update, "Fire over: this warning is cancelled.", msg_type="Cancel")
    return current, update, cancel


def make_current(original: bytes, now: dt.datetime) -> bytes:
    """`original` with a new identifier, `sent` = now and every `expires` 6 hours later."""
    root = etree.fromstring(original, etree.XMLParser(resolve_entities=False, no_network=True))
    ns = {"cap": CAP12}
    stamp = now.replace(microsecond=0)
    identifier = root.find("cap:identifier", ns)
    assert identifier is not None
    identifier.text = f"{identifier.text}:demo-{stamp:%Y%m%dT%H%M%S}"
    root.find("cap:sent", ns).text = stamp.isoformat()  # type: ignore[union-attr]
    for expires in root.iterfind("cap:info/cap:expires", ns):
        expires.text = (stamp + dt.timedelta(hours=6)).isoformat()
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def make_update(original: bytes, headline: str, *, msg_type: str = "Update") -> bytes:
    """An Update (or Cancel) referencing `original`: new identifier, sent a minute later."""
    root = etree.fromstring(original, etree.XMLParser(resolve_entities=False, no_network=True))
    ns = {"cap": CAP12}

    def text(tag: str) -> str:
        return str(root.findtext(f"cap:{tag}", namespaces=ns))

    sent = dt.datetime.fromisoformat(text("sent")) + dt.timedelta(minutes=1)
    reference = f"{text('sender')},{text('identifier')},{text('sent')}"
    root.find("cap:identifier", ns).text = f"{text('identifier')}:{msg_type.lower()}"  # type: ignore[union-attr]
    root.find("cap:sent", ns).text = sent.isoformat()  # type: ignore[union-attr]
    root.find("cap:msgType", ns).text = msg_type  # type: ignore[union-attr]
    for old in root.findall("cap:references", ns):
        root.remove(old)
    references = etree.Element(f"{{{CAP12}}}references")
    references.text = reference
    anchor = (
        root.findall("cap:code", ns)[-1]
        if root.findall("cap:code", ns)
        else root.find("cap:scope", ns)
    )
    anchor.addnext(references)  # type: ignore[union-attr]
    for headline_el in root.iterfind("cap:info/cap:headline", ns):
        headline_el.text = headline
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


async def provision(context: AppContext, sender: str) -> DemoCredentials:
    """The demo agency (created once) and fresh keys for it and for a manager."""
    async with transaction(context.sessions) as session:
        agency = await auth.find_agency(session, DEMO_AGENCY)
        if agency is None:
            agency = await auth.create_agency(session, name=DEMO_AGENCY, senders=[sender])
        _k, sender_key = await auth.create_key(
            session, name="demo sender", role=Role.AGENCY, agency_id=agency.id
        )
        _k, manager_key = await auth.create_key(session, name="demo manager", role=Role.MANAGER)
    return DemoCredentials(sender_key.plaintext, manager_key.plaintext)


def demo_sender() -> str:
    """The sender of the bundled alert: the demo agency may post for it."""
    original = resources.files("service.demo_data").joinpath(DEMO_ALERT).read_bytes()
    root = etree.fromstring(original, etree.XMLParser(resolve_entities=False, no_network=True))
    return root.findtext(f"{{{CAP12}}}sender") or ""


async def prepare_world(
    context: AppContext, simulators: Simulators, base_url: str, console: Console
) -> DemoCredentials:
    """The demo agency with fresh keys, and the demo operators wired to `simulators`.

    The SMS simulator sends its delivery reports to the API at `base_url`.
    """
    keys = await provision(context, demo_sender())
    operators = await provision_network(context, simulators, base_url)
    console.print(
        f"Operators {', '.join(operators)}: synthetic networks around the alert area, "
        f"CBC simulator {simulators.cbc_url}, SMS simulator {simulators.sms_url}"
    )
    return keys


async def walkthrough(
    context: AppContext, simulators: Simulators, base_url: str, console: Console
) -> None:
    """Post an alert, its Update and its Cancel; show each one's delivery as it happens."""
    original, update, cancel = demo_alerts(dt.datetime.now(dt.UTC))
    keys = await prepare_world(context, simulators, base_url, console)
    headers = {"Authorization": f"Bearer {keys.sender_key}", **CAP_HEADERS}
    manager = {"Authorization": f"Bearer {keys.manager_key}"}
    summaries: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        for label, document, settled in (
            ("Alert", original, "active"),
            ("Update", update, "active"),
            ("Cancel", cancel, "completed"),
        ):
            response = await client.post("/api/v1/alerts", content=document, headers=headers)
            response.raise_for_status()
            alert_id = response.json()["id"]
            summaries.append(await watch(client, manager, alert_id, label, settled, console))
    show_summary(console, summaries, base_url, keys)


def write_sample_alert(directory: Path) -> Path:
    """The bundled alert made current, saved for posting by hand; returns its path."""
    original, _update, _cancel = demo_alerts(dt.datetime.now(dt.UTC))
    path = directory / "sample-alert.xml"
    path.write_bytes(original)
    return path.resolve()


def show_try_it(console: Console, base_url: str, keys: DemoCredentials, sample: Path) -> None:
    """How to try the API by hand against the simulators."""
    console.print(f"\n[bold]Tocsin[/bold] on {base_url} with simulated channels (nothing leaves")
    console.print("this machine: every CBC and SMS gateway is an in-process simulator).")
    console.print(f"  dashboard      {base_url}/dashboard  (sign in with the manager key)")
    console.print(f"  API reference  {base_url}/docs")
    console.print(f"  live events    {base_url}/api/v1/events  (manager key)")
    console.print(f"Agency key:  {keys.sender_key}", soft_wrap=True)
    console.print(f"Manager key: {keys.manager_key}", soft_wrap=True)
    console.print("Post the sample alert (made current) and watch its delivery:")
    console.print(
        f"  curl -s -H 'Authorization: Bearer {keys.sender_key}' "
        f"-H 'Content-Type: application/cap+xml' --data-binary @{sample} "
        f"{base_url}/api/v1/alerts",
        soft_wrap=True,
    )
    console.print(
        f"  curl -s -H 'Authorization: Bearer {keys.manager_key}' "
        f"{base_url}/api/v1/alerts/<id>/delivery",
        soft_wrap=True,
    )


async def watch(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    alert_id: str,
    label: str,
    settled: str,
    console: Console,
) -> dict[str, Any]:
    """Progress bars per operator and channel until the alert reaches `settled`."""
    summary: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        bars: dict[str, TaskID] = {}
        for _ in range(int(WATCH_TIMEOUT_S / WATCH_POLL_S)):
            response = await client.get(f"/api/v1/alerts/{alert_id}/delivery", headers=headers)
            response.raise_for_status()
            summary = response.json()
            for name, done, total in _progress_rows(summary):
                if name not in bars:
                    bars[name] = progress.add_task(f"{label} {name}", total=total)
                progress.update(bars[name], completed=done, total=total)
            if summary["state"] == settled and _sms_settled(summary["sms"]):
                break
            await asyncio.sleep(WATCH_POLL_S)
    summary["label"] = label
    return summary


def _progress_rows(summary: dict[str, Any]) -> list[tuple[str, int, int]]:
    rows: dict[str, list[int]] = {}
    for dispatch in summary["dispatches"]:
        channel = {"cbs": "cell broadcast", "sms": "SMS batches", "lbsms": "location SMS"}
        name = f"{dispatch['operator']} {channel.get(dispatch['channel'], dispatch['channel'])}"
        done = dispatch["state"] in {
            "submitted",
            "acknowledged",
            "delivered",
            "failed",
            "cancelled",
        }
        counts = rows.setdefault(name, [0, 0])
        counts[0] += int(done)
        counts[1] += 1
    sms = summary["sms"]
    if sms["total"]:  # phones that got it, as the gateways' delivery reports come in
        rows["SMS delivery reports"] = [sms["total"] - _sms_awaiting(sms), sms["total"]]
    return [(name, done, total) for name, (done, total) in rows.items()]


def _sms_awaiting(sms: dict[str, int]) -> int:
    """Messages not sent yet, or sent and still without a final delivery report."""
    return sms["pending"] + sms["submitted"]


def _sms_settled(sms: dict[str, int]) -> bool:
    return _sms_awaiting(sms) == 0


def show_summary(
    console: Console, summaries: list[dict[str, Any]], base_url: str, keys: DemoCredentials
) -> None:
    table = Table(title="Delivery summary")
    columns = ("message", "state", "cells", "broadcasts", "kills", "SMS delivered", "p50 ms")
    for column in columns:
        table.add_column(column)
    for summary in summaries:
        done = [d for d in summary["dispatches"] if d["channel"] == "cbs" and d["submitted_at"]]
        kills = sum(d["action"] == "kill" for d in done)
        sms = summary["sms"]
        table.add_row(
            summary["label"],
            summary["state"],
            str(summary["cells"]["targeted"]),
            str(len(done) - kills),
            str(kills),
            f"{sms['delivered']} of {sms['total']}",
            str(summary["latency_ms"]["accept_to_submit"]["p50"] or "-"),
        )
    console.print(table)
    console.print("Look at (send the manager key as 'Authorization: Bearer <key>'):")
    console.print(f"  dashboard      {base_url}/dashboard  (sign in with the manager key)")
    console.print(f"  API reference  {base_url}/docs")
    for summary in summaries:
        console.print(
            f"  {summary['label']:<8} {base_url}/api/v1/alerts/{summary['alert']}/delivery",
            soft_wrap=True,
        )
    console.print(f"  live events    {base_url}/api/v1/events")
    console.print(f"  audit trail    {base_url}/api/v1/audit")
    console.print(f"  metrics        {base_url}/metrics")
    console.print(f"\nManager key: {keys.manager_key}", soft_wrap=True)
    console.print(f"Agency key:  {keys.sender_key}", soft_wrap=True)
