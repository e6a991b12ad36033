"""ACL schemes: world, auth, digest, ip (with masks), super; validation and AuthPacket ids."""

from __future__ import annotations

import pytest

from roost.tree import DataTree, TreeConfig, auth_ids, check_acl, digest_id, fixup_acl, ip_matches
from roost.tree.acl import AclCache, digest_valid, ip_valid
from roost.wire.errors import Err
from roost.wire.opcodes import Perm
from roost.wire.records import ACL, Id

from .helpers import CREATOR_ALL, Driver, node_at

SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
IP = Id("ip", "127.0.0.1")


def test_digest_id_matches_zookeeper() -> None:
    assert digest_id("super:test") == SUPER_DIGEST
    assert digest_id("u:p") == "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="
    # no colon: the whole string is the user and is hashed as is
    assert digest_id("solo").startswith("solo:")
    assert digest_id("a:b:c").startswith("a:")
    assert len(digest_id("u:p").split(":")[1]) == 28


def test_auth_ids() -> None:
    assert auth_ids("digest", b"u:p", "10.0.0.1", None) == [Id("digest", digest_id("u:p"))]
    assert auth_ids("digest", b"super:test", "10.0.0.1", SUPER_DIGEST) == [
        Id("super", ""),
        Id("digest", SUPER_DIGEST),
    ]
    assert auth_ids("digest", b"super:wrong", "1.2.3.4", SUPER_DIGEST) == [
        Id("digest", digest_id("super:wrong"))
    ]
    assert auth_ids("ip", None, "10.0.0.1", None) == [Id("ip", "10.0.0.1")]
    assert auth_ids("unknown-scheme", b"x", "10.0.0.1", None) is None
    assert auth_ids("world", b"anyone", "10.0.0.1", None) is None
    assert auth_ids("super", b"x", "10.0.0.1", SUPER_DIGEST) is None
    assert auth_ids("digest", None, "10.0.0.1", None) is None


@pytest.mark.parametrize(
    ("ident", "valid"),
    [("u:h", True), ("u:h:", True), (":h", True), ("u:", False), ("u", False),
     ("a:b:c", False), ("", False), (":", False)],
)
def test_digest_id_validity(ident: str, valid: bool) -> None:
    assert digest_valid(ident) is valid


@pytest.mark.parametrize(
    ("expr", "valid"),
    [("10.0.0.1", True), ("10.0.0.0/8", True), ("0.0.0.0/0", True), ("1.2.3.4/32", True),
     ("1.2.3.4/33", False), ("1.2.3.4/-1", False), ("1.2.3.4/x", False), ("1.2.3", False),
     ("1.2.3.4.", False), ("1.2.3.256", False), ("::1", False), ("a.b.c.d", False)],
)
def test_ip_validity(expr: str, valid: bool) -> None:
    assert ip_valid(expr) is valid


@pytest.mark.parametrize(
    ("remote", "expr", "match"),
    [("127.0.0.1", "127.0.0.1", True), ("127.0.0.2", "127.0.0.1", False),
     ("127.9.8.7", "127.0.0.0/8", True), ("128.0.0.1", "127.0.0.0/8", False),
     ("10.1.2.3", "10.1.0.0/16", True), ("10.2.2.3", "10.1.0.0/16", False),
     ("192.168.1.77", "192.168.1.64/26", True), ("192.168.1.128", "192.168.1.64/26", False),
     ("8.8.8.8", "0.0.0.0/0", True), ("10.0.0.1", "10.0.0.1/33", False),
     ("garbage", "0.0.0.0/0", False)],
)
def test_ip_masks(remote: str, expr: str, match: bool) -> None:
    assert ip_matches(remote, expr) is match


def test_check_acl_rules() -> None:
    digest = Id("digest", digest_id("u:p"))
    acl = [ACL(int(Perm.READ), digest), ACL(int(Perm.WRITE), Id("ip", "10.0.0.0/8"))]
    assert check_acl(acl, Perm.READ, [digest])
    assert not check_acl(acl, Perm.WRITE, [digest])
    assert check_acl(acl, Perm.WRITE, [Id("ip", "10.3.3.3")])
    assert not check_acl(acl, Perm.WRITE, [Id("ip", "11.3.3.3")])
    assert not check_acl(acl, Perm.READ, [Id("digest", digest_id("u:wrong"))])
    assert check_acl(acl, Perm.ADMIN, [Id("super", "")])
    assert check_acl([], Perm.ADMIN, [])
    world_read = [ACL(int(Perm.READ), Id("world", "anyone"))]
    assert check_acl(world_read, Perm.READ, [])
    assert not check_acl(world_read, Perm.DELETE, [IP])
    # getACL asks for READ|ADMIN: either bit is enough
    assert check_acl(world_read, Perm.READ | Perm.ADMIN, [])


def test_fixup_acl() -> None:
    digest = Id("digest", digest_id("u:p"))
    world = ACL(31, Id("world", "anyone"))
    assert fixup_acl([world, world], []) == (world,)
    assert fixup_acl([], [digest]) is None
    assert fixup_acl(None, [digest]) is None
    assert fixup_acl([ACL(31, Id("world", "bogus"))], []) is None
    assert fixup_acl([ACL(31, Id("nope", "x"))], []) is None
    assert fixup_acl([ACL(31, Id("super", ""))], []) is None
    assert fixup_acl([ACL(31, Id("digest", "nocolon"))], []) is None
    assert fixup_acl([ACL(31, Id("ip", "1.2.3.4/40"))], []) is None
    # auth expands to every authenticated id; ip and super ids do not count
    other = Id("digest", digest_id("v:q"))
    auth = [IP, Id("super", ""), digest, other]
    assert fixup_acl(CREATOR_ALL, auth) == (ACL(31, digest), ACL(31, other))
    assert fixup_acl(CREATOR_ALL, [IP, Id("super", "")]) is None
    assert fixup_acl([ACL(3, Id("auth", "ignored"))], [digest]) == (ACL(3, digest),)


def test_auth_scheme_end_to_end() -> None:
    digest = Id("digest", digest_id("u:p"))
    owner = Driver(auth=(IP, digest))
    assert owner.create("/mine", b"x", acl=CREATOR_ALL)[0] == Err.OK
    assert node_at(owner.tree, "/mine").acl == (ACL(31, digest),)
    stranger = Driver(tree=owner.tree, zxid=owner.zxid, auth=(IP,))
    assert stranger.set("/mine", b"y")[0] == Err.NO_AUTH
    assert stranger.create("/mine2", acl=CREATOR_ALL)[0] == Err.INVALID_ACL
    assert owner.set("/mine", b"y")[0] == Err.OK
    admin = Driver(tree=owner.tree, zxid=stranger.zxid, auth=(IP, Id("super", "")))
    assert admin.set("/mine", b"z")[0] == Err.OK
    assert admin.set("/zookeeper/config", b"cfg")[0] == Err.OK
    assert stranger.set("/zookeeper/config", b"cfg")[0] == Err.NO_AUTH


def test_ip_acl_end_to_end() -> None:
    d = Driver(auth=(IP,))
    acl = [ACL(31, Id("ip", "127.0.0.0/8"))]
    assert d.create("/local", acl=acl)[0] == Err.OK
    assert d.create("/local/x")[0] == Err.OK
    remote = Driver(tree=d.tree, zxid=d.zxid, auth=(Id("ip", "10.0.0.1"),))
    assert remote.create("/local/y")[0] == Err.NO_AUTH
    assert not d.tree.check_acl(node_at(d.tree, "/local"), Perm.READ, (Id("ip", "10.0.0.1"),))
    assert d.tree.check_acl(node_at(d.tree, "/local"), Perm.READ, (IP,))


def test_acl_cache_interns_and_counts() -> None:
    d = Driver(DataTree(TreeConfig()))
    base = len(d.tree.acl_cache)
    acl = [ACL(23, Id("world", "anyone"))]
    d.create("/a", acl=acl)
    d.create("/b", acl=acl)
    assert node_at(d.tree, "/a").acl is node_at(d.tree, "/b").acl
    assert len(d.tree.acl_cache) == base + 1
    d.delete("/a")
    assert len(d.tree.acl_cache) == base + 1
    assert d.set_acl("/b", [ACL(31, Id("world", "anyone"))])[0] == Err.OK
    assert len(d.tree.acl_cache) == base
    cache = AclCache()
    t1 = (ACL(1, Id("world", "anyone")),)
    t2 = (ACL(1, Id("world", "anyone")),)
    assert cache.acquire(t1) is t1
    assert cache.acquire(t2) is t1
    cache.release(t1)
    cache.release(t1)
    assert len(cache) == 0


def test_fixup_acl_remembers_by_value_not_by_list() -> None:
    """The last-list memo answers for equal entries only: a list of other entries, or the
    `auth` scheme (which depends on the connection), is validated again."""
    world = ACL(31, Id("world", "anyone"))
    read_only = ACL(1, Id("world", "anyone"))
    digest = Id("digest", digest_id("u:p"))
    assert fixup_acl([world], []) == (world,)
    assert fixup_acl([ACL(31, Id("world", "anyone"))], []) == (world,)  # equal, not same
    assert fixup_acl([read_only], []) == (read_only,)
    assert fixup_acl([world], []) == (world,)
    assert fixup_acl([ACL(31, Id("world", "bogus"))], []) is None
    assert fixup_acl([ACL(3, Id("auth", ""))], [digest]) == (ACL(3, digest),)
    assert fixup_acl([ACL(3, Id("auth", ""))], [IP]) is None  # not remembered per list
    assert fixup_acl([world, read_only], []) == (world, read_only)
    assert fixup_acl([world], []) == (world,)
