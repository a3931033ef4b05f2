"""Per-run capability tokens: signed, bound to one workflow id, scopes ``watch``/``stop``.

A caller starting a run with ``Iter`` may ask (``IterRequest.capability``) for a
token it can hand to a browser or another service: its holder may Watch and/or
Stop that one run until the token expires, and nothing else.

Token: ``hgcap1.<key id>.<payload>.<signature>``, the payload base64url JSON
``{"wf": workflow id, "scopes": [...], "exp": unix seconds}``, the signature
HMAC-SHA256 over ``hgcap1.<key id>.<payload>`` (base64url).

:class:`CapabilityKeys` reads ``--capability-key-file`` (TOML)::

    [[key]]
    id = "2026-12"
    secret = "at least 32 characters of random text"
    expires = 2027-01-31T00:00:00Z   # optional: tokens it signed stop working then

The last key listed that has not expired signs; every key that has not expired
verifies. :meth:`CapabilityKeys.reload` (SIGHUP) reads the file again, so a key
is rotated by adding a new one last and giving the old one an ``expires``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import logging
import re
import time
import tomllib
from collections.abc import Iterable

__all__ = [
    "CAPABILITY_SCOPES",
    "DEFAULT_TTL_S",
    "MAX_TTL_S",
    "Capability",
    "CapabilityKeyError",
    "CapabilityKeys",
    "is_capability",
]

log = logging.getLogger("hypergraph_grpc.capabilities")

CAPABILITY_SCOPES = ("watch", "stop")
DEFAULT_TTL_S = 3600.0
MAX_TTL_S = 24 * 3600.0
_PREFIX = "hgcap1"
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,32}")
_MIN_SECRET = 32


class CapabilityKeyError(ValueError):
    """A --capability-key-file that cannot be used (the message says how to fix it)."""


@dataclasses.dataclass(frozen=True)
class Capability:
    """What a verified token allows: these scopes on this one workflow id."""

    workflow_id: str
    scopes: frozenset[str]
    expires: float


@dataclasses.dataclass(frozen=True)
class _Key:
    id: str
    secret: bytes
    expires: float | None

    def valid(self, now: float) -> bool:
        return self.expires is None or now < self.expires

    def mac(self, signed: str) -> str:
        digest = hmac.new(self.secret, signed.encode(), hashlib.sha256).digest()
        return _b64(digest)


class CapabilityKeys:
    """The signing keys of ``--capability-key-file`` (see the module doc)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._keys = _load(path)

    def reload(self) -> bool:
        """Read the file again; a file that cannot be used keeps the current keys."""
        try:
            self._keys = _load(self.path)
        except CapabilityKeyError as exc:
            log.error(
                "capability key reload failed, keeping the current keys", extra={"error": str(exc)}
            )
            return False
        log.info("capability keys reloaded", extra={"keys": len(self._keys)})
        return True

    def sign(self, workflow_id: str, scopes: Iterable[str], ttl_s: float) -> str:
        now = time.time()
        signing = [key for key in self._keys if key.valid(now)]
        if not signing:
            raise CapabilityKeyError(
                f"every key in --capability-key-file {self.path!r} has expired. How to fix: add a "
                "new [[key]] last and send SIGHUP"
            )
        key = signing[-1]
        claims = {"wf": workflow_id, "scopes": sorted(set(scopes)), "exp": int(now + ttl_s)}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signed = f"{_PREFIX}.{key.id}.{payload}"
        return f"{signed}.{key.mac(signed)}"

    def verify(self, token: str) -> Capability | None:
        """The capability ``token`` grants, or None (bad form or signature, unknown or
        expired key, expired token)."""
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != _PREFIX:
            return None
        _, key_id, payload, signature = parts
        now = time.time()
        key = next((k for k in self._keys if k.id == key_id and k.valid(now)), None)
        if key is None:
            return None
        if not hmac.compare_digest(key.mac(f"{_PREFIX}.{key_id}.{payload}"), signature):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            capability = Capability(
                str(claims["wf"]), frozenset(claims["scopes"]), float(claims["exp"])
            )
        except (ValueError, KeyError, TypeError):
            return None
        return capability if now < capability.expires else None


def is_capability(credential: str) -> bool:
    """Whether a bearer credential has the form of a capability token."""
    return credential.startswith(f"{_PREFIX}.")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _load(path: str) -> list[_Key]:
    where = f"--capability-key-file {path!r}"
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise CapabilityKeyError(f"cannot read {where}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CapabilityKeyError(f"{where} is not valid TOML: {exc}") from None
    entries = document.get("key")
    if set(document) != {"key"} or not isinstance(entries, list) or not entries:
        raise CapabilityKeyError(
            f"{where} must hold [[key]] entries only, at least one. How to fix: see "
            "docs/security.md, 'Per-run capability tokens'"
        )
    keys: list[_Key] = []
    for number, entry in enumerate(entries, 1):
        at = f"{where}, [[key]] number {number}"
        if set(entry) - {"id", "secret", "expires"}:
            raise CapabilityKeyError(f"{at}: use only id, secret and expires")
        key_id, secret, expires = entry.get("id"), entry.get("secret"), entry.get("expires")
        if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
            raise CapabilityKeyError(f"{at}: id must be 1-32 characters of [A-Za-z0-9._-]")
        if any(key.id == key_id for key in keys):
            raise CapabilityKeyError(f"{at}: id {key_id!r} is listed twice")
        if not isinstance(secret, str) or len(secret) < _MIN_SECRET:
            raise CapabilityKeyError(
                f"{at}: secret must be at least {_MIN_SECRET} characters (e.g. python -c "
                '"import secrets; print(secrets.token_urlsafe(32))")'
            )
        if expires is not None and not isinstance(expires, datetime.datetime):
            raise CapabilityKeyError(f"{at}: expires must be a date-time (2027-01-31T00:00:00Z)")
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=datetime.UTC)
        keys.append(_Key(key_id, secret.encode(), expires.timestamp() if expires else None))
    return keys
