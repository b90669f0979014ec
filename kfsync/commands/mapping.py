"""``kfsync mapping``: the versioned mapping profile from the command line.

    kfsync mapping versions                 list versions (newest first)
    kfsync mapping export [-v N] [-o FILE]  YAML of the version in force (or N)
    kfsync mapping import FILE              YAML -> the draft; prints its diff
    kfsync mapping diff                     the draft against the version in force
    kfsync mapping validate                 problems of the draft (exit 1 on errors)
    kfsync mapping publish -m TEXT          publish the draft as a new version
    kfsync mapping rollback N [-m TEXT]     put version N's rules back, as a new version
    kfsync mapping refresh                  re-read the KashFlow (and Magento) catalogue
    kfsync mapping suggest                  suggestions for unmapped SKUs/methods/VAT rates
    kfsync mapping preview ORDER [-v N]     the invoice the draft (or N) would post

Promotion dev -> prod: ``kfsync mapping export -o profile.yml`` on dev, then ``kfsync
mapping import profile.yml`` on prod, read the diff, ``kfsync mapping publish -m ...``.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from kfsync.cli import echo_json, fail, load_settings, make_console

console = make_console()


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _url() -> str:
    """The database URL, with version 1 created when the store has none yet."""
    from mappings.errors import MappingError
    from services import profiles

    settings = load_settings()
    try:
        profiles.seed(settings.database_url, settings.mapping_file)
    except MappingError as exc:
        fail(str(exc))
    return settings.database_url


@click.group()
def mapping() -> None:
    """The mapping profile: versions, draft, publish, rollback, import/export, suggestions."""


@mapping.command("versions")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
def versions(limit: int) -> None:
    """Profile versions, newest first (the first row is in force)."""
    from services import profiles

    table = Table("version", "created", "source", "author", "changes", "comment")
    for n, v in enumerate(profiles.versions(_url(), limit)):
        label = f"{v.id} (in force)" if n == 0 else str(v.id)
        comment = (v.comment or "") + (f" [rollback of {v.rollback_of}]" if v.rollback_of else "")
        table.add_row(label, str(v.created_at)[:19], v.source, v.author, str(len(v.changes)),
                      comment)
    console.print(table)


@mapping.command("export")
@click.option("-v", "--version", "version", type=int, help="a version number (default: in force)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="write to this file instead of standard output")
def export(version: int | None, output: str | None) -> None:
    """The profile as YAML (to import in another environment)."""
    from services import profiles

    try:
        text = profiles.export_yaml(_url(), version)
    except profiles.ProfileError as exc:
        fail(str(exc))
    if output:
        Path(output).write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        click.echo(text, nl=False)


def _print_changes(changes: list[Any]) -> None:
    if not changes:
        console.print("no changes against the version in force")
        return
    for change in changes:
        console.print(str(change), markup=False, highlight=False)
    console.print(f"{len(changes)} change(s)")


@mapping.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_(path: str) -> None:
    """Make a YAML profile (or mapping file) the draft and print its diff."""
    from mappings.errors import MappingError
    from services import profiles

    url = _url()
    try:
        draft = profiles.import_yaml(url, Path(path).read_text(encoding="utf-8"), _actor(),
                                     source_name=path)
    except MappingError as exc:
        fail(str(exc))
    _print_changes(draft.changes)
    console.print("the import is the draft now: `kfsync mapping validate`, then "
                  "`kfsync mapping publish -m ...`")


@mapping.command("diff")
def diff() -> None:
    """The draft's changes against the version in force."""
    from services import profiles

    draft = profiles.draft(_url())
    if draft is None:
        console.print("there is no draft")
        return
    _print_changes(draft.changes)


@mapping.command("validate")
def validate_() -> None:
    """The draft's (or, without a draft, the version in force's) problems."""
    from services import studio

    problems = studio.problems(_url())
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        console.print(f"[{style}]{p.severity}[/{style}] {p}", highlight=False)
    errors = sum(1 for p in problems if p.severity == "error")
    console.print(f"{errors} error(s), {len(problems) - errors} warning(s)")
    if errors:
        raise SystemExit(1)


@mapping.command("publish")
@click.option("-m", "--comment", required=True, help="why (kept with the version)")
def publish(comment: str) -> None:
    """Publish the draft as a new version (refused while it has errors)."""
    from services import profiles, studio

    try:
        version = studio.publish(_url(), _actor(), comment)
    except profiles.ProfileError as exc:
        fail(str(exc))
    console.print(f"published version {version.id} ({len(version.changes)} change(s))")


@mapping.command("rollback")
@click.argument("version", type=int)
@click.option("-m", "--comment", help="why (default: rollback to version N)")
def rollback(version: int, comment: str | None) -> None:
    """Put VERSION's rules back in force, as a new version."""
    from services import profiles

    try:
        new = profiles.rollback(_url(), version, _actor(), comment)
    except profiles.ProfileError as exc:
        fail(str(exc))
    console.print(f"version {new.id} restores version {version}")


@mapping.command("refresh")
@click.option("--no-magento", is_flag=True, help="KashFlow only (skip Magento's product list)")
@click.option("--pair", help="refresh this integration pair's catalogue (docs/pairs.md; "
                             "default: default)")
def refresh(no_magento: bool, pair: str | None) -> None:
    """Re-read KashFlow's products, VAT rates, bank accounts and payment methods."""
    from connectors.errors import ConnectorError
    from kfsync.commands.pairs import work_as_pair
    from services import catalogue
    from services.clients import kashflow_client, magento_client

    url, who = _url(), _actor()
    settings = work_as_pair(pair, "kashflow_username", "kashflow_password",
                            purpose="kfsync mapping refresh")
    if pair:  # the pair's endpoints and credentials (its catalogue rows: core.pairs)
        from workers import context

        settings = context.settings()
    catalogue.mark_refresh(settings.redis_url, "running", who)  # the studio shows it
    try:
        kashflow = kashflow_client(settings)
        magento = None if no_magento else magento_client(settings)
        report = catalogue.refresh(url, kashflow, magento, redis_url=settings.redis_url)
    except ConnectorError as exc:
        catalogue.mark_refresh(settings.redis_url, "failed", who, str(exc))
        fail(f"catalogue refresh failed: {exc}")
    catalogue.mark_refresh(settings.redis_url, "done", who, str(report).capitalize())
    console.print(str(report), highlight=False)


@mapping.command("suggest")
@click.option("--json", "as_json", is_flag=True, help="the open suggestions as JSON")
def suggest(as_json: bool) -> None:
    """Suggest targets for what recent orders used and no rule maps (last 90 days)."""
    from services import studio_suggestions

    url = _url()
    report = studio_suggestions.run_suggestions(url, _actor())
    rows = studio_suggestions.suggestions(url, "open")
    if as_json:
        echo_json([{"id": r.id, "kind": r.kind, "source": r.source_key,
                    "label": r.source_label, "top": r.candidates.get("top", [])}
                   for r in rows])
        return
    table = Table("id", "kind", "source", "best suggestion", "confidence", "reason")
    for r in rows:
        top = r.candidates.get("top", [])
        best = top[0] if top else {}
        table.add_row(str(r.id), r.kind, r.source_key, str(best.get("label", "-")),
                      f"{best.get('confidence', 0):.2f}" if best else "-",
                      str(best.get("reason", "no candidate")))
    console.print(table)
    mapped, total = report.covered
    width = 40
    filled = round(width * mapped / total) if total else width
    console.print(f"applied by themselves: {report.applied}; waiting for a decision: "
                  f"{report.waiting}")
    console.print(f"SKU coverage (last 90 days): [{'#' * filled}{'.' * (width - filled)}] "
                  f"{mapped}/{total}", highlight=False)


@mapping.command("preview")
@click.argument("order")
@click.option("-v", "--version", "version", type=int, help="a version instead of the draft")
def preview(order: str, version: int | None) -> None:
    """The invoice body the draft (or VERSION) would post for a stored ORDER."""
    from services import profiles, studio_preview

    try:
        chosen, _ = studio_preview.preview(_url(), order, version=version)
    except profiles.ProfileError as exc:
        fail(str(exc))
    console.print(f"[bold]{chosen.label}[/bold], order {chosen.order_ref} (job {chosen.job_id})")
    if chosen.body is not None:
        echo_json(chosen.body)
        for n, line in enumerate(chosen.lines, start=1):
            console.print(f"line {n}: {line.rule}", highlight=False)
    console.print(f"penny guard: {chosen.penny or chosen.error}", highlight=False)
    for f in chosen.findings:
        console.print(f"check {f.check} ({f.severity}): {f.message}", highlight=False)
    for note in chosen.notes:
        console.print(f"note: {note}", highlight=False)
    for change in chosen.changes:
        console.print(f"vs published: {change}", highlight=False)


COMMANDS: list[Any] = [mapping]
