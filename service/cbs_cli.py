"""`tocsin cbs encode`: the exact cell-broadcast bytes Tocsin would send, offline.

Operators use it to compare our pages with what their CBC or a test handset
shows, before any alert is live. Pages are the 82-octet contents as the ECBE
`payload_encoded` and the generic job API carry them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from channels.cbs import (
    AlertFacts,
    CbsMessage,
    CmasProfile,
    EncodedText,
    EuAlertProfile,
    GeoScope,
    InfoText,
    NotBroadcastable,
    SerialNumber,
    additional_languages,
    build_message,
    encode_text,
    fit_text,
    normalize_language,
)
from service.cap import CapAlert, CapInfo, validate_cap

cbs_app = typer.Typer(help="Cell broadcast encoding tools.", no_args_is_help=True)
ProfileName = Literal["cmas", "eu-alert"]


@cbs_app.callback()
def cbs_group() -> None:
    """Cell broadcast tools. (The callback keeps `encode` a named sub-command.)"""


def _profile(name: str) -> CmasProfile | EuAlertProfile:
    if name == "cmas":
        return CmasProfile()
    if name == "eu-alert":
        return EuAlertProfile()
    raise typer.BadParameter("the profile is cmas or eu-alert", param_hint="--profile")


def _pages(encoded: EncodedText | CbsMessage) -> dict[str, Any]:
    return {
        "dcs": encoded.coding.dcs,
        "alphabet": encoded.coding.alphabet.value,
        "page_count": len(encoded.pages),
        "pages": [page.content.hex().upper() for page in encoded.pages],
        "page_lengths": [page.useful_length for page in encoded.pages],
        "text": encoded.text,
    }


def _text_report(text: str, language: str | None, profile: CmasProfile | EuAlertProfile) -> Any:
    code = normalize_language(language)
    fitted = fit_text(text, code, max_chars=profile.max_chars)
    return {"messages": [{"language": code, **_pages(encode_text(fitted, code))}]}


def _cap_report(path: Path, profile: CmasProfile | EuAlertProfile, code: int) -> Any:
    data = path.read_bytes()
    result = validate_cap(data, max_bytes=max(len(data) + 1, 1))
    if result.alert is None:
        problems = "; ".join(f"{i.path}: {i.message}" for i in result.errors)
        raise typer.BadParameter(f"not an accepted CAP alert: {problems}", param_hint="CAPFILE")
    alert = result.alert
    extra = additional_languages([info.language for info in alert.infos])
    messages = [
        _info_report(alert, info, profile, code, additional)
        for info, additional in zip(alert.infos, extra, strict=True)
    ]
    return {"messages": messages}


def _info_report(
    alert: CapAlert,
    info: CapInfo,
    profile: CmasProfile | EuAlertProfile,
    code: int,
    additional: bool,
) -> dict[str, Any]:
    facts = AlertFacts(
        status=alert.status,
        msg_type=alert.msg_type,
        scope=alert.scope,
        event=info.event,
        urgency=info.urgency,
        severity=info.severity,
        certainty=info.certainty,
        event_codes=tuple(info.event_codes),
        parameters=tuple(info.parameters),
        code=tuple(alert.code),
    )
    text = InfoText(
        language=info.language,
        headline=info.headline or "",
        description=info.description or "",
        instruction=info.instruction or "",
        parameters=tuple(info.parameters),
    )
    serial = SerialNumber(GeoScope.PLMN_WIDE, code, 0)  # code < 256, so ETWS fits too
    language = normalize_language(info.language)
    try:
        message = build_message(facts, text, profile, serial=serial, additional_language=additional)
    except NotBroadcastable as refusal:
        return {"language": language, "refused": refusal.reason}
    return {
        "language": language,
        "message_identifier": message.message_identifier,
        "purpose": message.purpose.value,
        "serial_number": message.serial_number.encode(),
        "etws_warning_type": None if message.etws is None else int(message.etws.warning_type),
        **_pages(message),
    }


def _print_human(report: dict[str, Any]) -> None:
    for message in report["messages"]:
        head = f"language {message['language'] or '-'}"
        if "refused" in message:
            typer.echo(f"{head}: not broadcast: {message['refused']}")
            continue
        if "message_identifier" in message:
            head += (
                f", message identifier {message['message_identifier']}"
                f" ({message['purpose']}), serial 0x{message['serial_number']:04X}"
            )
        typer.echo(f"{head}, DCS 0x{message['dcs']:02X}, {message['page_count']} page(s)")
        for number, page in enumerate(message["pages"], start=1):
            typer.echo(f"  page {number}: {page}")
        typer.echo(f"  text: {message['text']!r}")


@cbs_app.command("encode")
def encode_command(
    capfile: Annotated[
        Path | None, typer.Argument(help="A CAP file: one message per <info>.", exists=True)
    ] = None,
    text: Annotated[
        str | None, typer.Option(help="Encode this text instead of a CAP file.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="ISO 639-1 language of --text (e.g. en).")
    ] = None,
    profile: Annotated[str, typer.Option(help="Identifier profile: cmas or eu-alert.")] = "cmas",
    message_code: Annotated[int, typer.Option(min=0, max=255, help="Message code.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the DCS, page count and pages (hex) Tocsin would broadcast."""
    chosen = _profile(profile)
    if (capfile is None) == (text is None):
        raise typer.BadParameter("give either a CAP file or --text")
    if text is not None:
        report = _text_report(text, language, chosen)
    else:
        assert capfile is not None
        report = _cap_report(capfile, chosen, message_code)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_human(report)
