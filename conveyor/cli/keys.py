"""API key and audit commands: `keys create|list|revoke` and `audit`."""

from __future__ import annotations

import json

import click

from ..admin import audit_list, audit_to_dict
from ..apikeys import ApiKeys, Scope
from ..clock import to_iso
from .common import common_options, handle_errors, open_app

CLI_ACTOR = "cli"


@click.group()
def keys() -> None:
    """Manage API keys for the HTTP API (only a hash of each key is stored)."""


@keys.command("create")
@common_options
@click.option("--name", required=True, help="A name for the key; the audit log records it as the actor.")
@click.option("--scope", type=click.Choice([s.value for s in Scope]), default=Scope.READ.value, show_default=True,
              help="read: GET routes; write: also submit, cancel, retry; admin: everything.")
@handle_errors
def create(app_spec: str | None, db: str | None, name: str, scope: str) -> None:
    """Create a key and print it (alone, on the last line of stdout). It is shown only once."""
    app = open_app(app_spec, db, create=True)
    try:
        key, text = ApiKeys(app).create(name, scope, actor=CLI_ACTOR)
    finally:
        app.close()
    click.echo(f"Created API key {key.name!r} (id {key.key_id}, scope {key.scope.value}). "
               "Store it now: it cannot be shown again.", err=True)
    click.echo(text)


@keys.command("list")
@common_options
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def list_(app_spec: str | None, db: str | None, include_revoked: bool, as_json: bool) -> None:
    """List API keys (names, ids, scopes; never the keys themselves)."""
    app = open_app(app_spec, db, create=False)
    try:
        found = ApiKeys(app).list_keys(include_revoked)
    finally:
        app.close()
    if as_json:
        click.echo(json.dumps([k.to_dict() for k in found], indent=2))
        return
    if not found:
        click.echo("no API keys; create one with: conveyor keys create --name NAME --scope admin")
        return
    click.echo(f"{'ID':10} {'NAME':24} {'SCOPE':6} {'CREATED':25} {'LAST USED':25} REVOKED")
    for k in found:
        click.echo(f"{k.key_id:10} {k.name:24} {k.scope.value:6} {to_iso(k.created_at) or '':25} "
                   f"{to_iso(k.last_used_at) or '-':25} {to_iso(k.revoked_at) or '-'}")


@keys.command("revoke")
@common_options
@click.argument("name_or_id")
@handle_errors
def revoke(app_spec: str | None, db: str | None, name_or_id: str) -> None:
    """Revoke the active key with this name or id; requests with it get 401 from now on."""
    app = open_app(app_spec, db, create=False)
    try:
        revoked = ApiKeys(app).revoke(name_or_id, actor=CLI_ACTOR)
    finally:
        app.close()
    for k in revoked:
        click.echo(f"revoked {k.key_id} ({k.name}, {k.scope.value})")


@click.command()
@common_options
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--actor", help="Only this actor (a key name, or cli).")
@click.option("--action", help="Only this action, e.g. job.cancel.")
@click.option("--job", "job_id", help="Only entries about this job.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def audit(app_spec: str | None, db: str | None, limit: int, actor: str | None, action: str | None,
          job_id: str | None, as_json: bool) -> None:
    """Show the audit log of operator actions, newest first."""
    app = open_app(app_spec, db, create=False)
    try:
        page = audit_list(app, limit=limit, actor=actor, action=action, job_id=job_id)
    finally:
        app.close()
    entries = [audit_to_dict(e) for e in page.entries]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for e in entries:
        jobs = ",".join(e["job_ids"])
        details = json.dumps(e["details"]) if e["details"] else ""
        click.echo(f"{e['at']}  {e['actor']:16} {e['action']:18} {jobs} {details}")


COMMANDS = [keys, audit]
