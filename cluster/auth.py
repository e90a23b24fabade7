"""Users, roles and the one authorization check every front end uses (pure).

A user has a password, stored only as a salted scrypt hash (computed by the
node that receives the clear password, so the Raft log never holds it), and
grants: a role on a resource pattern.

* roles: ``read`` < ``write`` < ``admin`` (each includes the ones before it);
* resources: ``topic:<pattern>``, ``key:<pattern>``, ``group:<pattern>``,
  ``cluster`` (cluster operations, user management), where a pattern is an
  exact name, a prefix ending in ``*`` (``orders.*``, ``session:*``) or ``*``.

An operation needs a role on a resource: producing to ``orders`` needs
``write`` on ``topic:orders``; ``GET session:1`` needs ``read`` on
``key:session:1``; creating a topic needs ``admin`` on ``topic:<name>``;
managing users needs ``admin`` on ``cluster``; the cluster's internal keys
(``{__...``) need ``admin`` on ``cluster`` too. Users and grants live in the
Raft-replicated cluster state, so every node enforces the same set as soon as
it applies a change.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cluster import slots
from cluster.errors import ErrorCode, KeystreamError

ROLES = ("read", "write", "admin")
RESOURCE_KINDS = ("topic", "key", "group", "cluster")
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
# scrypt: 16 MiB and ~50 ms per check on one core; enough to make offline guessing costly
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LEN = 8
MAX_PASSWORD_LEN = 1024
NODE_PRINCIPAL = "__node"  # other nodes of the cluster (authenticated by the cluster secret)
# Keys the cluster keeps for itself (consumer groups' ``{__group:G}:...``): grants on
# ``key:`` patterns never reach them, only ``admin`` on ``cluster`` does -- as Kafka's
# ``__consumer_offsets`` is not writable by a user who may write every topic.
INTERNAL_KEY_PREFIX = slots.INTERNAL_KEY_PREFIX.decode()


def validate_username(name: Any) -> str:
    if not isinstance(name, str) or not _USERNAME.match(name) or name.startswith("__"):
        raise KeystreamError(
            ErrorCode.INVALID_REQUEST,
            "a user name is 1-64 letters, digits and . _ @ -, not starting with __",
        )
    return name


def hash_password(password: str, salt: bytes | None = None) -> dict[str, Any]:
    if not isinstance(password, str) or not MIN_PASSWORD_LEN <= len(password) <= MAX_PASSWORD_LEN:
        raise KeystreamError(
            ErrorCode.INVALID_REQUEST, f"a password is {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"
        )
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return {"alg": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt, "hash": digest}


def verify_password(password: str, record: Mapping[str, Any]) -> bool:
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LEN or record.get("alg") != "scrypt":
        return False
    digest = hashlib.scrypt(
        password.encode(), salt=record["salt"], n=record["n"], r=record["r"], p=record["p"], dklen=32
    )
    return hmac.compare_digest(digest, record["hash"])


def parse_resource(resource: Any) -> tuple[str, str]:
    """``topic:orders.*`` -> (``topic``, ``orders.*``); ``cluster`` -> (``cluster``, ``*``)."""
    if not isinstance(resource, str):
        raise KeystreamError(ErrorCode.INVALID_REQUEST, "a resource is a string like topic:orders.*")
    kind, sep, pattern = resource.partition(":")
    if kind == "cluster" and not sep:
        return "cluster", "*"
    if kind not in RESOURCE_KINDS or not sep or not pattern or kind == "cluster":
        raise KeystreamError(
            ErrorCode.INVALID_REQUEST,
            f"resource {resource!r}: use topic:<pattern>, key:<pattern>, group:<pattern> or cluster",
        )
    if "*" in pattern[:-1]:
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"resource {resource!r}: '*' may only end a pattern")
    return kind, pattern


def validate_grant(role: Any, resource: Any) -> dict[str, str]:
    if role not in ROLES:
        raise KeystreamError(ErrorCode.INVALID_REQUEST, f"role must be one of {', '.join(ROLES)}, got {role!r}")
    kind, pattern = parse_resource(resource)
    return {"role": role, "resource": "cluster" if kind == "cluster" else f"{kind}:{pattern}"}


# A grant compiled for checking: (role rank, kind, pattern without its "*", is a prefix).
CompiledGrant = tuple[int, str, str, bool]


def compile_grants(grants: Iterable[Mapping[str, str]]) -> tuple[CompiledGrant, ...]:
    compiled = []
    for grant in grants:
        kind, pattern = parse_resource(grant["resource"])
        prefix = pattern.endswith("*")
        compiled.append((_ROLE_RANK.get(grant["role"], -1), kind, pattern[:-1] if prefix else pattern, prefix))
    return tuple(compiled)


def allowed(grants: Iterable[Mapping[str, str]], role: str, kind: str, name: bytes | str = "") -> bool:
    """Does a set of grants give ``role`` (or a stronger one) on resource ``kind:name``?"""
    return allowed_compiled(compile_grants(grants), role, kind, name)


def allowed_compiled(grants: tuple[CompiledGrant, ...], role: str, kind: str, name: bytes | str = "") -> bool:
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="surrogateescape")
    if kind == "key" and name.startswith(INTERNAL_KEY_PREFIX):
        role, kind = "admin", "cluster"
    needed = _ROLE_RANK[role]
    for rank, granted_kind, pattern, prefix in grants:
        if rank < needed or granted_kind != kind:
            continue
        if kind == "cluster" or (name.startswith(pattern) if prefix else name == pattern):
            return True
    return False


class Principal:
    """Who is making a request: a user (with their grants), another node, or anonymous
    access on an open (no users defined) loopback cluster."""

    __slots__ = ("_compiled", "grants", "name", "superuser")

    def __init__(self, name: str, grants: list[dict[str, str]], superuser: bool = False) -> None:
        self.name = name
        self.grants = grants
        self.superuser = superuser
        self._compiled = compile_grants(grants)  # checked on every request: parse the resources once

    def can(self, role: str, kind: str, name: bytes | str = "") -> bool:
        return self.superuser or allowed_compiled(self._compiled, role, kind, name)

    def require(self, role: str, kind: str, name: bytes | str = "") -> None:
        if not self.can(role, kind, name):
            shown = name.decode(errors="replace") if isinstance(name, bytes) else name
            target = "the cluster" if kind == "cluster" else f"{kind} {shown!r}"
            raise KeystreamError(ErrorCode.AUTHORIZATION_FAILED, f"user {self.name!r} may not {role} {target}")

    def __repr__(self) -> str:
        return f"Principal({self.name!r})"


def node_token(secret: str) -> str:
    """What a node presents to another node's native listener: derived from the cluster
    secret (never the secret itself), so only cluster members can act as nodes."""
    return hmac.new(secret.encode(), b"keystream node authentication v1", hashlib.sha256).hexdigest()
