"""``keystream user ...``: users and their grants (needs a cluster admin, or open mode)."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from client.cli.common import bootstrap_option, connect, print_json
from client.cli.runner import run


@click.group()
def user() -> None:
    """Manage users and their roles (read, write, admin on topic:/key:/group: prefixes, or cluster)."""


async def _call(bootstrap: str | None, op: str, args: dict[str, Any]) -> Any:
    async with connect(bootstrap) as ks:
        return await ks.cluster.request_any(op, args)


def _grants(items: tuple[str, ...]) -> list[dict[str, str]]:
    out = []
    for item in items:
        role, sep, resource = item.partition("@")
        if not sep:
            raise click.BadParameter(f"expected ROLE@RESOURCE (e.g. read@topic:orders.*), got {item!r}")
        out.append({"role": role, "resource": resource})
    return out


@user.command("add")
@click.argument("name")
@click.option("--password", "new_password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="KEYSTREAM_NEW_PASSWORD", help="The new user's password (prompted when omitted).")  # fmt: skip
@click.option("--grant", "grants", multiple=True, metavar="ROLE@RESOURCE", help="e.g. write@key:session:*")
@click.option("--replace", is_flag=True, help="Change the password of an existing user.")
@bootstrap_option
def add(name: str, new_password: str, grants: tuple[str, ...], replace: bool, bootstrap: str | None) -> None:
    """Create user NAME (the password is hashed by the node; it never reaches the log)."""
    run(_call(bootstrap, "create_user", {"name": name, "password": new_password, "grants": _grants(grants),
                                         "replace": replace}))  # fmt: skip
    click.echo(f"user {name} {'updated' if replace else 'created'}")


@user.command("list")
@bootstrap_option
@click.option("--json", "as_json", is_flag=True)
def list_(bootstrap: str | None, as_json: bool) -> None:
    """Users and their grants."""
    users = run(_call(bootstrap, "list_users", {}))
    if as_json:
        print_json(users)
        return
    table = Table()
    table.add_column("user")
    table.add_column("grants")
    for entry in users:
        table.add_row(entry["name"], ", ".join(f"{g['role']}@{g['resource']}" for g in entry["grants"]) or "-")
    Console().print(table)


@user.command("delete")
@click.argument("name")
@bootstrap_option
def delete(name: str, bootstrap: str | None) -> None:
    """Delete user NAME."""
    run(_call(bootstrap, "delete_user", {"name": name}))
    click.echo(f"user {name} deleted")


@user.command("grant")
@click.argument("name")
@click.argument("role", type=click.Choice(["read", "write", "admin"]))
@click.argument("resource")
@bootstrap_option
def grant(name: str, role: str, resource: str, bootstrap: str | None) -> None:
    """Give NAME the ROLE on RESOURCE (topic:PATTERN, key:PATTERN, group:PATTERN or cluster)."""
    run(_call(bootstrap, "grant", {"name": name, "role": role, "resource": resource}))
    click.echo(f"granted {role} on {resource} to {name}")


@user.command("revoke")
@click.argument("name")
@click.argument("role", type=click.Choice(["read", "write", "admin"]))
@click.argument("resource")
@bootstrap_option
def revoke(name: str, role: str, resource: str, bootstrap: str | None) -> None:
    """Take ROLE on RESOURCE away from NAME."""
    run(_call(bootstrap, "revoke", {"name": name, "role": role, "resource": resource}))
    click.echo(f"revoked {role} on {resource} from {name}")
