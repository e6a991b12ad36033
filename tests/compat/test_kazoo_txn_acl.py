"""kazoo against both backends: transactions (multi) and ACLs with digest auth."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    InvalidACLError,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import ZnodeStat
from kazoo.security import (
    ACL,
    CREATOR_ALL_ACL,
    OPEN_ACL_UNSAFE,
    READ_ACL_UNSAFE,
    Id,
    Permissions,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
)

from .conftest import ClientFactory

pytestmark = pytest.mark.compat

SUPER = ("digest", "super:test")


# --- transactions ------------------------------------------------------------------------


def test_transaction_success(zk: KazooClient) -> None:
    zk.create("/old", b"")
    t = zk.transaction()
    t.create("/t", b"a")
    t.create("/t/kid", b"k")
    t.set_data("/t", b"b")
    t.check("/t", 1)
    t.delete("/old")
    results = t.commit()
    assert results[:2] == ["/t", "/t/kid"]
    assert isinstance(results[2], ZnodeStat)
    assert results[2].version == 1
    assert results[3:] == [True, True]
    assert zk.get("/t")[0] == b"b"
    assert zk.exists("/old") is None
    # every op of a multi shares one zxid
    t_stat, kid_stat = zk.exists("/t"), zk.exists("/t/kid")
    assert t_stat.czxid == kid_stat.czxid == t_stat.mzxid


def test_transaction_failure_rolls_back(zk: KazooClient) -> None:
    t = zk.transaction()
    t.create("/x", b"")
    t.delete("/missing")
    results = t.commit()
    assert [type(r) for r in results] == [RolledBackError, NoNodeError]
    assert zk.exists("/x") is None


def test_transaction_failed_check_and_later_ops(zk: KazooClient) -> None:
    zk.create("/c", b"")
    t = zk.transaction()
    t.set_data("/c", b"new")
    t.check("/c", 5)
    t.create("/never", b"")
    results = t.commit()
    assert [type(r) for r in results] == [RolledBackError, BadVersionError, RuntimeInconsistency]
    assert zk.get("/c")[0] == b""
    assert zk.exists("/c").version == 0
    assert zk.exists("/never") is None


def test_transaction_node_exists_inside(zk: KazooClient) -> None:
    t = zk.transaction()
    t.create("/dup", b"")
    t.create("/dup", b"")
    results = t.commit()
    assert [type(r) for r in results] == [RolledBackError, NodeExistsError]
    assert zk.exists("/dup") is None


def test_transaction_sees_its_own_earlier_ops(zk: KazooClient) -> None:
    zk.create("/s", b"")
    t = zk.transaction()
    t.create("/s/n", b"", sequence=True)
    t.create("/s/n", b"", sequence=True)
    t.check("/s", 0)
    t.delete("/s/n0000000000")
    results = t.commit()
    assert results == ["/s/n0000000000", "/s/n0000000001", True, True]
    assert zk.get_children("/s") == ["n0000000001"]


def test_transaction_context_manager(zk: KazooClient) -> None:
    with zk.transaction() as t:
        t.create("/cm", b"1")
        t.set_data("/cm", b"2")
    assert zk.get("/cm")[0] == b"2"


# --- ACLs ------------------------------------------------------------------------------


def test_digest_acl_requires_auth(make_client: ClientFactory) -> None:
    owner = make_client(auth_data=[("digest", "alice:secret")])
    other = make_client()
    acl = make_digest_acl("alice", "secret", all=True)
    owner.create("/private", b"hidden", acl=[acl])
    assert owner.get("/private")[0] == b"hidden"
    with pytest.raises(NoAuthError):
        other.get("/private")
    with pytest.raises(NoAuthError):
        other.set("/private", b"x")
    with pytest.raises(NoAuthError):
        other.create("/private/kid", b"")
    # exists needs no permission
    assert other.exists("/private") is not None
    other.add_auth("digest", "alice:secret")
    assert other.get("/private")[0] == b"hidden"


def test_wrong_password_gets_no_access(make_client: ClientFactory) -> None:
    owner = make_client()
    owner.create("/p", b"x", acl=[make_digest_acl("bob", "right", read=True)])
    intruder = make_client(auth_data=[("digest", "bob:wrong")])
    with pytest.raises(NoAuthError):
        intruder.get("/p")


def test_creator_all_acl(make_client: ClientFactory) -> None:
    authed = make_client(auth_data=[("digest", "carol:pw")])
    authed.create("/mine", b"", acl=CREATOR_ALL_ACL)
    acls, stat = authed.get_acls("/mine")
    assert acls == [ACL(Permissions.ALL, Id("digest", make_digest_acl_credential("carol", "pw")))]
    assert stat.aversion == 0
    anonymous = make_client()
    with pytest.raises(InvalidACLError):
        anonymous.create("/theirs", b"", acl=CREATOR_ALL_ACL)
    with pytest.raises(NoAuthError):
        anonymous.get("/mine")


def test_empty_acl_list_is_invalid(zk: KazooClient) -> None:
    zk.create("/n", b"")
    with pytest.raises(InvalidACLError):
        zk.set_acls("/n", [])


@pytest.mark.parametrize(
    "acl",
    [
        make_acl("world", "somebody", read=True),
        make_acl("nosuchscheme", "x", read=True),
        make_acl("digest", "no-colon-here", read=True),
    ],
    ids=["world-not-anyone", "unknown-scheme", "digest-bad-id"],
)
def test_invalid_acls(zk: KazooClient, acl: ACL) -> None:
    with pytest.raises(InvalidACLError):
        zk.create("/bad", b"", acl=[acl])
    assert zk.exists("/bad") is None


def test_read_only_acl(make_client: ClientFactory) -> None:
    zk = make_client()
    zk.create("/ro", b"v", acl=READ_ACL_UNSAFE)
    assert zk.get("/ro")[0] == b"v"
    with pytest.raises(NoAuthError):
        zk.set("/ro", b"w")
    with pytest.raises(NoAuthError):
        zk.create("/ro/kid", b"")
    with pytest.raises(NoAuthError):
        zk.set_acls("/ro", OPEN_ACL_UNSAFE)


def test_permission_bits_are_separate(zk: KazooClient) -> None:
    zk.create("/cd", b"", acl=[make_acl("world", "anyone", create=True, delete=True)])
    zk.create("/cd/kid", b"")
    with pytest.raises(NoAuthError):
        zk.get_children("/cd")
    with pytest.raises(NoAuthError):
        zk.get("/cd")
    zk.delete("/cd/kid")


def test_duplicate_acl_entries_collapse(zk: KazooClient) -> None:
    acl = make_acl("world", "anyone", all=True)
    zk.create("/dup", b"", acl=[acl, acl])
    acls, _ = zk.get_acls("/dup")
    assert acls == [acl]


def test_super_digest_bypasses_acls(make_client: ClientFactory) -> None:
    owner = make_client(auth_data=[("digest", "dave:pw")])
    owner.create("/locked", b"secret", acl=[make_digest_acl("dave", "pw", all=True)])
    root = make_client(auth_data=[SUPER])
    assert root.get("/locked")[0] == b"secret"
    root.set("/locked", b"changed")
    root.create("/locked/kid", b"")
    root.set_acls("/locked", OPEN_ACL_UNSAFE)
    assert make_client().get("/locked")[0] == b"changed"


def test_super_with_wrong_password_is_plain_digest(make_client: ClientFactory) -> None:
    owner = make_client(auth_data=[("digest", "erin:pw")])
    owner.create("/locked", b"", acl=[make_digest_acl("erin", "pw", all=True)])
    fake = make_client(auth_data=[("digest", "super:nottest")])
    with pytest.raises(NoAuthError):
        fake.get("/locked")


def test_get_acls_masks_digest_without_admin(make_client: ClientFactory) -> None:
    owner = make_client(auth_data=[("digest", "frank:pw")])
    cred = make_digest_acl_credential("frank", "pw")
    acl = [make_digest_acl("frank", "pw", all=True), make_acl("world", "anyone", read=True)]
    owner.create("/masked", b"", acl=acl)
    full, _ = owner.get_acls("/masked")
    assert sorted((a.id.scheme, a.id.id, a.perms) for a in full) == sorted(
        [("digest", cred, Permissions.ALL), ("world", "anyone", Permissions.READ)]
    )
    reader, _ = make_client().get_acls("/masked")
    assert sorted((a.id.scheme, a.id.id, a.perms) for a in reader) == sorted(
        [("digest", "frank:x", Permissions.ALL), ("world", "anyone", Permissions.READ)]
    )


def test_get_acls_needs_read_or_admin(make_client: ClientFactory) -> None:
    owner = make_client(auth_data=[("digest", "gina:pw")])
    owner.create("/closed", b"", acl=[make_digest_acl("gina", "pw", all=True)])
    with pytest.raises(NoAuthError):
        make_client().get_acls("/closed")



def test_unknown_auth_scheme_fails(make_client: ClientFactory) -> None:
    zk = make_client()
    other = make_client()
    with pytest.raises(AuthFailedError):
        zk.add_auth("unknown-scheme", "whatever")
    # kazoo treats a failed auth as fatal for that client; the server is fine
    other.create("/after", b"")
    assert other.exists("/after") is not None


def test_ip_acls(zk: KazooClient) -> None:
    zk.create("/mine", b"ok", acl=[make_acl("ip", "127.0.0.1", all=True)])
    assert zk.get("/mine")[0] == b"ok"
    zk.create("/subnet", b"ok", acl=[make_acl("ip", "127.0.0.0/8", read=True)])
    assert zk.get("/subnet")[0] == b"ok"
    zk.create("/elsewhere", b"no", acl=[make_acl("ip", "10.1.2.3", all=True)])
    with pytest.raises(NoAuthError):
        zk.get("/elsewhere")
    zk.create("/othernet", b"no", acl=[make_acl("ip", "192.168.0.0/16", all=True)])
    with pytest.raises(NoAuthError):
        zk.get("/othernet")
    for bad in ("not-an-ip", "127.0.0.1/33"):
        with pytest.raises(InvalidACLError):
            zk.create("/bad-ip", b"", acl=[make_acl("ip", bad, all=True)])
