"""``tocsin cap validate``: check CAP files from the command line.

Senders use it to check alerts before posting them; we use it on feeds.
The main CLI mounts ``cap_app`` as ``tocsin cap``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from service.cap.model import Issue, ValidationResult
from service.cap.validation import validate_cap

cap_app = typer.Typer(help="Validate CAP 1.2 and 1.1 alerts.", no_args_is_help=True)


@cap_app.callback()
def cap_group() -> None:
    """CAP tools. (The callback keeps `validate` a named sub-command.)"""


def _issues_json(issues: list[Issue]) -> list[dict[str, str]]:
    return [{"path": issue.path, "message": issue.message} for issue in issues]


def _report_json(file: Path, result: ValidationResult) -> str:
    return json.dumps(
        {
            "file": str(file),
            "accepted": result.accepted,
            "errors": _issues_json(result.errors),
            "warnings": _issues_json(result.warnings),
        },
        ensure_ascii=False,
    )


def _report_human(console: Console, file: Path, result: ValidationResult) -> None:
    version = f"CAP {result.version}" if result.version else "not CAP"
    if result.accepted:
        verdict = "[green]accepted[/green]"
    else:
        verdict = f"[red]rejected[/red] ({result.kind})"
    console.print(f"[bold]{escape(str(file))}[/bold]: {verdict}, {version}")
    for issue in result.errors:
        console.print(f"  [red]error[/red]   {escape(issue.path)}: {escape(issue.message)}")
    for issue in result.warnings:
        console.print(f"  [yellow]warning[/yellow] {escape(issue.path)}: {escape(issue.message)}")


@cap_app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="CAP XML files to check.")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat elements out of schema order as errors.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file and line.")
    ] = False,
) -> None:
    """Validate each FILE; exit 0 when every file is accepted, 1 otherwise."""
    console = Console(highlight=False, soft_wrap=True)
    all_accepted = True
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as error:
            result = ValidationResult(
                accepted=False,
                kind=None,
                errors=[Issue("/", f"cannot read the file: {error.strerror or error}")],
                warnings=[],
                alert=None,
                version=None,
            )
        else:
            result = validate_cap(data, strict=strict)
        all_accepted = all_accepted and result.accepted
        if as_json:
            typer.echo(_report_json(file, result))
        else:
            _report_human(console, file, result)
    raise typer.Exit(0 if all_accepted else 1)
