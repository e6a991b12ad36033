"""SASL DIGEST-MD5 (RFC 2831) as ZooKeeper's server speaks it: service "zookeeper", realm
"zk-sasl-md5", quality of protection "auth" only. Sans-I/O: the server feeds each client
token to `DigestMd5Server.step` and sends back what it returns.

A successful exchange gives the connection the identity ("sasl", user name), which the
`sasl` ACL scheme matches by equality. Kerberos (GSSAPI) is not supported.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from pathlib import Path

SERVICE = "zookeeper"
REALM = "zk-sasl-md5"
DIGEST_URI = f"{SERVICE}/{REALM}"
_JAAS_USER = re.compile(r'user_([^\s=]+)\s*=\s*"((?:[^"\\]|\\.)*)"')


class SaslError(Exception):
    """The client's token is malformed or its credentials are wrong."""


def parse_directives(token: bytes) -> dict[str, str]:
    """`key=value,key="quoted, value"` into a dict (RFC 2831's digest-response syntax)."""
    text = token.decode("utf-8")
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            raise SaslError(f"malformed directive {text[i:]!r}")
        key = text[i:eq].strip().lower()
        i = eq + 1
        if i < n and text[i] == '"':
            i += 1
            value = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(text[i])
                i += 1
            if i >= n:
                raise SaslError(f"unterminated quoted value of {key!r}")
            i += 1
            val = "".join(value)
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            val = text[i:end].strip()
            i = end
        if key in out:
            raise SaslError(f"directive {key!r} given twice")
        out[key] = val
    return out


def _md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def response_value(
    user: str, password: str, d: Mapping[str, str], a2_prefix: str
) -> str:
    """The `response` (a2_prefix "AUTHENTICATE") or `rspauth` (a2_prefix "") value."""
    secret = hashlib.md5(f"{user}:{d['realm']}:{password}".encode()).digest()
    a1 = secret + f":{d['nonce']}:{d['cnonce']}".encode()
    if d.get("authzid"):
        a1 += f":{d['authzid']}".encode()
    a2 = f"{a2_prefix}:{d['digest-uri']}".encode()
    kd = f"{_md5_hex(a1)}:{d['nonce']}:{d['nc']}:{d['cnonce']}:{d['qop']}:{_md5_hex(a2)}"
    return _md5_hex(kd.encode())


class DigestMd5Server:
    """One connection's DIGEST-MD5 exchange: challenge, then the client's response checked
    against `users` (name -> password) and answered with `rspauth`."""

    def __init__(self, users: Mapping[str, str], nonce: str) -> None:
        self.users = users
        self.nonce = nonce
        self.challenged = False
        self.user: str | None = None

    def challenge(self) -> bytes:
        return (
            f'realm="{REALM}",nonce="{self.nonce}",qop="auth",charset=utf-8,'
            f"algorithm=md5-sess"
        ).encode()

    def step(self, token: bytes) -> tuple[bytes, str | None]:
        """The token to send back, and the authenticated user once the exchange is done."""
        if self.user is not None:
            raise SaslError("the exchange is already complete")
        if not self.challenged:
            self.challenged = True  # DIGEST-MD5 has no initial response: challenge first
            return self.challenge(), None
        try:
            d = parse_directives(token)
        except UnicodeDecodeError:
            raise SaslError("response is not UTF-8") from None
        for key in ("username", "nonce", "cnonce", "nc", "response", "digest-uri"):
            if key not in d:
                raise SaslError(f"response lacks {key}")
        d.setdefault("realm", REALM)
        d.setdefault("qop", "auth")
        if d["realm"] != REALM or d["nonce"] != self.nonce:
            raise SaslError("response for another realm or nonce")
        if d["qop"] != "auth" or d["nc"] != "00000001":
            raise SaslError(f"unsupported qop {d['qop']!r} or nonce count {d['nc']!r}")
        if d["digest-uri"] != DIGEST_URI:
            raise SaslError(f"digest-uri {d['digest-uri']!r}, expected {DIGEST_URI!r}")
        user = d["username"]
        if d.get("authzid") and d["authzid"] != user:
            raise SaslError(f"{user!r} may not act as {d['authzid']!r}")
        password = self.users.get(user)
        if password is None:
            raise SaslError(f"unknown user {user!r}")
        expected = response_value(user, password, d, "AUTHENTICATE")
        if not hmac.compare_digest(expected, d["response"].lower()):
            raise SaslError(f"wrong password for {user!r}")
        self.user = user
        return f"rspauth={response_value(user, password, d, '')}".encode(), user


def parse_users_file(path: str) -> tuple[tuple[str, str], ...]:
    """SASL users from a file: ZooKeeper's JAAS `Server` section (`user_bob="secret"`
    entries of DigestLoginModule) or `user:password` lines (# comments)."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    if "DigestLoginModule" in text:
        return tuple((u, p.replace('\\"', '"')) for u, p in _JAAS_USER.findall(text))
    users = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user:
            raise ValueError(f"{path}:{n}: expected user:password")
        users.append((user, password))
    return tuple(users)
