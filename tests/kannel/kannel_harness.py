"""Start a real Kannel (bearerbox + smsbox + fakesmsc) on loopback for tests.

Debian packages `kannel` (bearerbox, smsbox) and `kannel-extras`
(/usr/lib/kannel/test/fakesmsc). Everything listens on 127.0.0.1 on free
ports, with a generated config in a temporary directory. Two SMSC links:

- `fake`: Kannel's fake SMSC, fed by fakesmsc. It reports delivery (DLR
  type 8 from Kannel, then type 1 from the fake SMSC) for every message.
- `smpp`: Kannel's SMPP client bound to our SMSC simulator, which answers
  with receipts in the formats we choose, so Kannel produces real DLRs from
  real deliver_sm PDUs.

A module with a unique name (not conftest) so tests can import it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
INSTALL_HINT = (
    "Kannel is required for these tests and is not installed. "
    "Install it with: apt-get install -y kannel kannel-extras"
)


def kannel_binaries() -> dict[str, str]:
    """Paths of bearerbox, smsbox and fakesmsc; fails the test run loudly when one is missing."""
    found = {
        "bearerbox": shutil.which("bearerbox") or "/usr/sbin/bearerbox",
        "smsbox": shutil.which("smsbox") or "/usr/sbin/smsbox",
        "fakesmsc": FAKESMSC,
    }
    missing = [name for name, path in found.items() if not os.access(path, os.X_OK)]
    if missing:
        pytest.fail(f"{INSTALL_HINT} (missing: {', '.join(missing)})", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class KannelSetup:
    """Ports and credentials of one test Kannel; `smpp_port` is our SMSC simulator."""

    workdir: Path
    smpp_port: int
    admin_port: int
    smsbox_port: int
    sendsms_port: int
    fake_port: int
    username: str = "tocsin"
    password: str = "kannel-test"
    admin_password: str = "admin-test"
    smpp_system_id: str = "kannel"
    smpp_password: str = "smpptest"  # SMPP 3.4 passwords are at most 8 characters

    @classmethod
    def on_free_ports(cls, workdir: Path, smpp_port: int) -> KannelSetup:
        return cls(workdir, smpp_port, free_port(), free_port(), free_port(), free_port())

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}/status.txt"

    def config(self) -> str:
        log = self.workdir
        return f"""
group = core
admin-port = {self.admin_port}
admin-interface = 127.0.0.1
admin-password = {self.admin_password}
status-password = {self.admin_password}
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{log}/bearerbox.log"
log-level = 0
access-log = "{log}/access.log"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
allowed-smsc-id = fake
port = {self.fake_port}
connect-allow-ip = 127.0.0.1

group = smsc
smsc = smpp
smsc-id = smpp
allowed-smsc-id = smpp
host = 127.0.0.1
port = {self.smpp_port}
transceiver-mode = true
smsc-username = {self.smpp_system_id}
smsc-password = {self.smpp_password}
system-type = ""
reconnect-delay = 1
enquire-link-interval = 30
# Our simulator answers submit_sm with hex ids and reports them in decimal,
# a common real-world mismatch (telecom.md §3.2): bit 0 = submit_sm_resp hex.
msg-id-type = 0x01

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{log}/smsbox.log"
log-level = 0
# As docs/sms.md recommends: without these, smsbox calls a dlr-url once and a
# report that Tocsin answered 503 (busy, or its database briefly away) is lost.
http-request-retry = 3
http-queue-delay = 1

group = sendsms-user
username = {self.username}
password = {self.password}
max-messages = 1
"""


class KannelProcesses:
    """bearerbox, smsbox and fakesmsc as child processes, started in order and checked."""

    def __init__(self, setup: KannelSetup) -> None:
        self.setup = setup
        self.binaries = kannel_binaries()
        self.processes: list[subprocess.Popen[bytes]] = []
        self.fakesmsc_out = setup.workdir / "fakesmsc.out"

    def _spawn(self, *args: str, stdin: int | None = None) -> None:
        name = Path(args[0]).name
        with (self.setup.workdir / f"{name}.out").open("wb") as out:  # the child has its own fd
            process = subprocess.Popen(
                args, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, cwd=self.setup.workdir
            )
        self.processes.append(process)

    async def start(self, within: float = 20.0) -> None:
        """Start the three programs and wait until both SMSC links are online.

        Fails the test (with the logs) when Kannel does not come up in time.
        """
        conf = self.setup.workdir / "kannel.conf"
        conf.write_text(self.setup.config())
        deadline = time.monotonic() + within
        self._spawn(self.binaries["bearerbox"], str(conf))
        await self._wait(deadline, lambda page: "Status: running" in page, "bearerbox up")
        self._spawn(self.binaries["smsbox"], str(conf))
        fake = (self.binaries["fakesmsc"], "-H", "127.0.0.1", "-r", str(self.setup.fake_port))
        self._spawn(*fake, "-m", "0", stdin=subprocess.PIPE)
        await self._wait(deadline, _links_online, "fake and smpp SMSC links online")
        await self._wait_sendsms(deadline)

    async def _status(self, client: httpx.AsyncClient) -> str:
        try:
            response = await client.get(
                self.setup.status_url, params={"password": self.setup.admin_password}
            )
        except httpx.HTTPError:
            return ""
        return response.text

    async def _wait(self, deadline: float, ready: Callable[[str], bool], what: str) -> None:
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                page = await self._status(client)
                if ready(page):
                    return
                self._check_alive(what, deadline)
                await asyncio.sleep(0.1)

    async def _wait_sendsms(self, deadline: float) -> None:
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                try:
                    await client.get(self.setup.sendsms_url)
                    return
                except httpx.HTTPError:
                    self._check_alive("smsbox sendsms", deadline)
                    await asyncio.sleep(0.1)

    def _check_alive(self, what: str, deadline: float) -> None:
        dead = [p.args for p in self.processes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            reason = f"exited: {dead}" if dead else "timed out"
            pytest.fail(f"Kannel did not come up ({what}; {reason})\n{self.logs()}", pytrace=False)

    def logs(self, lines: int = 30) -> str:
        """The tails of Kannel's logs, for failure messages."""
        tails = []
        for name in ("bearerbox.log", "smsbox.log", "bearerbox.out", "fakesmsc.out"):
            path = self.setup.workdir / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                tails.append(f"--- {name}\n" + "\n".join(tail))
        return "\n".join(tails)

    def fakesmsc_lines(self) -> list[str]:
        """What fakesmsc received, one `from to type [udh] data` per message."""
        text = self.fakesmsc_out.read_text(errors="replace")
        found = _FAKESMSC_LINE.findall(text)
        return [str(line) for line in found]

    async def wait_for_fakesmsc(self, line: str, within: float = 5.0) -> None:
        """Wait until fakesmsc has logged `line` (it reads its socket only about once a second)."""
        deadline = time.monotonic() + within
        while line not in self.fakesmsc_lines():
            if time.monotonic() > deadline:
                pytest.fail(f"fakesmsc never got {line!r}; it got {self.fakesmsc_lines()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Terminate in reverse order (fakesmsc, smsbox, bearerbox); kill what lingers."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait, 5)
            if process.stdin is not None:
                process.stdin.close()


# fakesmsc logs `Got message 3: <FROM TO type [udh] data>` for each message it receives.
_FAKESMSC_LINE = re.compile(r"Got message \d+: <(.*)>")


def _links_online(page: str) -> bool:
    lines = [line.strip() for line in page.splitlines()]
    online = {line.split("[", 1)[0] for line in lines if "(online" in line}
    return {"fake", "smpp"} <= online
