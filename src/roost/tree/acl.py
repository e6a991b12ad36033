"""ACL schemes (world, auth, digest, ip, x509, sasl, super): validation, fixup, checks, cache.

Pure helpers shared by the tree (create/setACL/permission checks) and the server (AuthPacket
handling). Semantics follow ZooKeeper 3.8's providers:

* digest ids are ``user:BASE64(SHA1("user:password"))`` and match by string equality;
* ip ACL ids are IPv4 ``a.b.c.d`` or ``a.b.c.d/bits`` and match the connection's address
  after masking (IPv6 is not valid, as in 3.8);
* ``auth`` in an ACL expands to every authenticated (digest) id of the connection;
* an id with scheme ``super`` passes every check;
* x509 ids are a client certificate's subject DN (RFC 2253), sasl ids a SASL user name;
  both match by string equality.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Sequence

from roost.wire.records import ACL, Id

WORLD_ANYONE = Id("world", "anyone")
SUPER_ID = Id("super", "")
#: schemes whose ids count as "authenticated" when an ``auth`` ACL is expanded
AUTHENTICATED_SCHEMES = frozenset({"digest", "sasl", "x509"})

_JAVA_INT = re.compile(r"[+-]?[0-9]+")


def digest_id(user_password: str) -> str:
    """"user:password" -> "user:BASE64(SHA1(user:password))" (the digest scheme's id)."""
    user = user_password.split(":", 1)[0]
    sha = hashlib.sha1(user_password.encode("utf-8", "surrogatepass")).digest()
    return user + ":" + base64.b64encode(sha).decode("ascii")


def auth_ids(
    scheme: str, auth: bytes | None, remote_ip: str, super_digest: str | None
) -> list[Id] | None:
    """The ids an AuthPacket adds to a connection, or None for AuthFailed."""
    if scheme == "digest":
        if auth is None:
            return None
        did = digest_id(auth.decode("utf-8", "replace"))
        ids = [Id("digest", did)]
        if super_digest is not None and did == super_digest:
            ids.insert(0, SUPER_ID)  # ZooKeeper adds the super id first
        return ids
    if scheme == "ip":
        return [Id("ip", remote_ip)]
    return None


# --- ip scheme ----------------------------------------------------------------------------


def _java_int(text: str) -> int | None:
    return int(text) if _JAVA_INT.fullmatch(text) else None


def parse_ipv4(addr: str) -> bytes | None:
    """Four dotted decimal octets -> 4 bytes, or None."""
    parts = addr.split(".")
    if len(parts) != 4:
        return None
    out = bytearray()
    for part in parts:
        v = _java_int(part)
        if v is None or not 0 <= v <= 255:
            return None
        out.append(v)
    return bytes(out)


def _parse_ip_acl(expr: str) -> tuple[bytes, int] | None:
    addr, sep, bits_text = expr.partition("/")
    raw = parse_ipv4(addr)
    if raw is None:
        return None
    if not sep:
        return raw, len(raw) * 8
    bits = _java_int(bits_text)
    if bits is None or not 0 <= bits <= len(raw) * 8:
        return None
    return raw, bits


def _mask(raw: bytes, bits: int) -> int:
    value = int.from_bytes(raw, "big")
    total = len(raw) * 8
    return value >> (total - bits) if bits else 0


def ip_valid(expr: str) -> bool:
    return _parse_ip_acl(expr) is not None


def ip_matches(remote: str, expr: str) -> bool:
    """Whether the connection address `remote` is inside the ACL expression `expr`."""
    parsed = _parse_ip_acl(expr)
    raw = parse_ipv4(remote)
    if parsed is None or raw is None:
        return False
    acl_raw, bits = parsed
    return _mask(acl_raw, bits) == _mask(raw, bits)


# --- digest scheme ------------------------------------------------------------------------


def digest_valid(ident: str) -> bool:
    """Java's ``id.split(":").length == 2`` (trailing empty parts are dropped)."""
    parts = ident.split(":")
    while parts and parts[-1] == "":
        parts.pop()
    return len(parts) == 2


# --- validation and checks ----------------------------------------------------------------


def _valid_id(ident: Id) -> bool:
    if ident.scheme == "world":
        return ident.id == "anyone"
    if ident.scheme == "digest":
        return digest_valid(ident.id)
    if ident.scheme == "ip":
        return ip_valid(ident.id)
    if ident.scheme == "x509":
        return "=" in ident.id  # a certificate subject DN (matched by string equality)
    if ident.scheme == "sasl":
        return bool(ident.id)  # a SASL user name
    return False


def fixup_acl(acl: Sequence[ACL] | None, auth: Iterable[Id]) -> tuple[ACL, ...] | None:
    """Validate and expand a create/setACL ACL list; None means InvalidACL.

    Duplicates are dropped first (keeping order); ``auth`` entries expand to one entry per
    authenticated id of the connection (none -> invalid); unknown schemes and malformed ids
    are invalid; an empty list is invalid.
    """
    if not acl:
        return None
    # Most creates carry one of a few ACL lists: remember the validated result by value
    # (lists with the `auth` scheme depend on the connection and are not remembered).
    # The list last asked for first: the request decoder hands out the same entry objects
    # for the same bytes, so the tuples compare by identity, without building a key.
    entries = tuple(acl)
    last = _LAST
    if entries == last[0]:
        return last[1]
    key = tuple([(e.perms, e.id.scheme, e.id.id) for e in acl])
    hit = _FIXED.get(key)
    if hit is not None:
        _LAST[:] = (entries, hit)
        return hit
    fixed = _fixup(acl, auth)
    if fixed is not None and not any(e.id.scheme == "auth" for e in acl):
        if len(_FIXED) >= _FIXED_MAX:
            _FIXED.clear()
        _FIXED[key] = fixed
        _LAST[:] = (entries, fixed)
    return fixed


#: validated ACL tuples by the (perms, scheme, id) triples of the request's list
_FIXED: dict[tuple[tuple[int, str, str], ...], tuple[ACL, ...]] = {}
_FIXED_MAX = 1024
#: the entries of the ACL list last remembered, and its validated tuple
_LAST: list[tuple[ACL, ...]] = [(), ()]


def _fixup(acl: Sequence[ACL], auth: Iterable[Id]) -> tuple[ACL, ...] | None:
    unique = list(dict.fromkeys(acl))
    out: list[ACL] = []
    for entry in unique:
        ident = entry.id
        if ident.scheme == "auth":
            ids = [a for a in auth if a.scheme in AUTHENTICATED_SCHEMES]
            if not ids:
                return None
            out.extend(ACL(entry.perms, a) for a in ids)
        elif _valid_id(ident):
            out.append(entry)
        else:
            return None
    return tuple(out)


def _id_matches(have: Id, want: Id) -> bool:
    if have.scheme != want.scheme:
        return False
    if want.scheme == "ip":
        return ip_matches(have.id, want.id)
    return have.id == want.id


def check_acl(acl: Sequence[ACL], perm: int, auth: Sequence[Id]) -> bool:
    """ZooKeeper's checkACL: does a connection with ids `auth` have `perm` on `acl`?"""
    if not acl:
        return True
    for ident in auth:
        if ident.scheme == "super":
            return True
    for entry in acl:
        if not entry.perms & perm:
            continue
        ident = entry.id
        if ident.scheme == "world" and ident.id == "anyone":
            return True
        for ident in auth:
            if _id_matches(ident, entry.id):
                return True
    return False


class AclCache:
    """Interns ACL tuples so that nodes sharing an ACL share one tuple (with use counts).

    Use counts are kept by the shared tuple's identity: hashing a tuple of ACLs means
    hashing every entry again, and this runs for every create.
    """

    __slots__ = ("_counts", "_interned", "_last", "_last_in")

    def __init__(self) -> None:
        #: the tuple last asked for and the shared tuple it mapped to (fixup_acl hands out
        #: the same tuple object for the same ACL list, so this usually skips hashing)
        self._last_in: tuple[ACL, ...] | None = None
        self._last: tuple[ACL, ...] | None = None
        self._interned: dict[tuple[ACL, ...], tuple[ACL, ...]] = {}
        self._counts: dict[int, int] = {}

    def acquire(self, acl: tuple[ACL, ...]) -> tuple[ACL, ...]:
        """Return the shared tuple equal to `acl` and count one more user."""
        shared = self._last
        if shared is not None and (acl is self._last_in or acl is shared):
            self._counts[id(shared)] += 1
            return shared
        found = self._interned.get(acl)
        if found is None:
            found = self._interned[acl] = acl
            self._counts[id(acl)] = 0
        self._counts[id(found)] += 1
        self._last, self._last_in = found, acl
        return found

    def release(self, acl: tuple[ACL, ...]) -> None:
        key = id(acl)
        n = self._counts.get(key, 0) - 1
        if n > 0:
            self._counts[key] = n
        else:
            if acl is self._last:
                self._last = self._last_in = None
            self._counts.pop(key, None)
            self._interned.pop(acl, None)

    def __len__(self) -> int:
        return len(self._interned)

    def items(self) -> list[tuple[ACL, ...]]:
        return list(self._interned)
