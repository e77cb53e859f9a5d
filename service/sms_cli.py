"""`tocsin sms encode`: the exact SMS segments Tocsin would send for a text, offline.

For checking a text against a gateway's segment cap, or comparing our UDH
and packed payloads with what a handset or an SMSC log shows.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from channels.sms import EmptySmsError, SegmentLimitExceeded, encode_for_cli

sms_app = typer.Typer(help="SMS encoding tools.", no_args_is_help=True)


@sms_app.callback()
def sms_group() -> None:
    """SMS tools. (The callback keeps `encode` a named sub-command.)"""


@sms_app.command("encode")
def encode(
    text: Annotated[str, typer.Option("--text", help="The message text.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print {encoding, segments: [{udh, payload}], count}.")
    ] = False,
) -> None:
    """Encoding (gsm7 or ucs2) and segments (UDH and air-form payload, hex) of TEXT."""
    try:
        encoded = encode_for_cli(text)
    except (EmptySmsError, SegmentLimitExceeded) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(encoded))
        return
    segments = encoded["segments"]
    assert isinstance(segments, list)
    typer.echo(f"{encoded['encoding']}, {encoded['count']} segment(s)")
    for number, segment in enumerate(segments, start=1):
        typer.echo(f"  {number}: udh={segment['udh'] or '-'} payload={segment['payload']}")
