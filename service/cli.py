"""The `tocsin` command: serve, migrate, manage agencies and keys, validate CAP, verify audit.

Each feature owns its sub-commands; this module only mounts them.
"""

from __future__ import annotations

import typer

from service.areas.cli import geocodes_app, jurisdictions_app
from service.audit.cli import audit_app
from service.auth.cli import agencies_app, keys_app
from service.cap.cli import cap_app
from service.cbs_cli import cbs_app
from service.network.channels_cli import channels_app
from service.network.cli import cells_app, operators_app, resolve
from service.recipients.cli import subscribers_app
from service.runtime import db_app, demo, serve, worker
from service.sms_cli import sms_app

app = typer.Typer(
    name="tocsin",
    help="Tocsin: CAP alerts in, cell broadcast and SMS out, every delivery tracked.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(cap_app, name="cap", help="Validate CAP documents offline.")
app.add_typer(agencies_app, name="agencies")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(operators_app, name="operators")
app.add_typer(cells_app, name="cells")
app.add_typer(geocodes_app, name="geocodes")
app.add_typer(jurisdictions_app, name="jurisdictions")
app.command()(resolve)
app.command()(serve)
app.command()(demo)
app.command()(worker)
app.add_typer(channels_app, name="channels")
app.add_typer(cbs_app, name="cbs")
app.add_typer(sms_app, name="sms")
app.add_typer(subscribers_app, name="subscribers")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # `python -m service.cli`: how `tocsin serve` starts its worker
    main()
