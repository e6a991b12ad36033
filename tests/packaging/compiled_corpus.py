"""A fixed corpus through the modules the compiled build compiles; prints what came out.

Run as a script by tests/packaging/test_compiled.py, once against the pure-Python source and
once against a mypyc-compiled copy: each line is a label and the bytes (hex) or the values
that came out, so the two runs must print the same lines. The first line names the roost
modules that were loaded from C extensions. Deterministic: one seeded random generator.
"""

from __future__ import annotations

import importlib
import random
import sys

from roost.raft import Entry, EntryKind
from roost.replica.member import Member
from roost.replica.state import ReplicaState
from roost.server import history
from roost.testing.sim.cluster import SimCluster
from roost.tree import DataTree, TreeConfig
from roost.tree.txn import Kind, Txn, TxnResult, apply_txn
from roost.wire import codegen
from roost.wire import records as records_module
from roost.wire.errors import ProtocolError
from roost.wire.jute import Reader, Writer
from roost.wire.multi import MultiRequest
from roost.wire.opcodes import CreateMode, Op
from roost.wire.protocol import (
    FrameBuffer,
    decode_request,
    encode_event,
    encode_frame,
    encode_reply,
    encode_request,
)
from roost.wire.records import (
    ACL,
    AuthPacket,
    CheckVersionRequest,
    ConnectRequest,
    CreateRequest,
    CreateTTLRequest,
    DeleteRequest,
    Empty,
    GetDataRequest,
    Id,
    Record,
    SetACLRequest,
    SetDataRequest,
)
from roost.wire.session import ClientProtocol, Connect, Request

#: the modules setup.py's MYPYC_MODULES lists, as module names
MODULES = [
    "roost.wire.jute", "roost.wire.record_codecs", "roost.wire.protocol", "roost.wire.session",
    "roost.server.requests", "roost.server.reads", "roost.server.history", "roost.tree.paths",
    "roost.tree.node", "roost.tree.context", "roost.tree.acl", "roost.tree.state",
    "roost.tree.ops", "roost.tree.datatree", "roost.tree.snapshot", "roost.tree.txn",
    "roost.replica.order", "roost.replica.state", "roost.replica.sessions",
    "roost.replica.membership", "roost.replica.core", "roost.raft.config", "roost.raft.errors",
    "roost.raft.messages", "roost.raft.log", "roost.raft.progress", "roost.raft.quorum",
    "roost.raft.readonly", "roost.raft.snapshot", "roost.raft.core", "roost.raft.node",
]

OPEN = [ACL(31, Id("world", "anyone"))]
ACLS = [OPEN, [ACL(1, Id("world", "anyone"))], [ACL(31, Id("digest", "u:x"))],
        [ACL(31, Id("auth", ""))], [ACL(0, Id("bogus", "x"))], []]
AUTHS: list[tuple[Id, ...]] = [(), (Id("digest", "u:x"),), (Id("super", ""),)]
NAMES = ["a", "b", "c", "dd", "\u00e9", "x.y"]
BAD_NAMES = ["", ".", "..", "bad\u0001", "\ud800"]


def emit(label: str, value: object) -> None:
    if isinstance(value, bytes | bytearray):
        value = bytes(value).hex()
    print(f"{label}\t{value}")


def compiled_modules() -> list[str]:
    out = []
    for name in MODULES:
        file = importlib.import_module(name).__file__ or ""
        if not file.endswith(".py"):
            out.append(name)
    return out


def random_path(rng: random.Random) -> str:
    depth = rng.randint(1, 4)
    names = [rng.choice(NAMES if rng.random() > 0.02 else BAD_NAMES) for _ in range(depth)]
    path = "/" + "/".join(names)
    return path if rng.random() > 0.02 else path + "/"


def random_write(rng: random.Random) -> tuple[int, Record]:
    path = random_path(rng)
    data = None if rng.random() < 0.05 else rng.randbytes(rng.choice([0, 1, 10, 100, 1024]))
    version = rng.choice([-1, -1, 0, 1, 2])
    roll = rng.random()
    if roll < 0.35:
        flags = rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 7])
        op = rng.choice([Op.CREATE, Op.CREATE2, Op.CREATE_CONTAINER])
        return op, CreateRequest(path, data, rng.choice(ACLS), flags)
    if roll < 0.4:
        ttl = rng.choice([-1, 0, 1, 60_000, 1 << 41])
        return Op.CREATE_TTL, CreateTTLRequest(path, data, OPEN, rng.choice([5, 6, 0]), ttl)
    if roll < 0.6:
        return Op.SET_DATA, SetDataRequest(path, data, version)
    if roll < 0.75:
        return Op.DELETE, DeleteRequest(path, version)
    if roll < 0.8:
        return Op.SET_ACL, SetACLRequest(path, rng.choice(ACLS), version)
    if roll < 0.85:
        return Op.CHECK, CheckVersionRequest(path, version)
    ops: list[tuple[int, Record]] = []
    for _ in range(rng.randint(1, 4)):
        sub_op, sub = random_write(rng)
        if sub_op not in (Op.MULTI, Op.SET_ACL):
            ops.append((sub_op, sub))
    return Op.MULTI, MultiRequest(tuple(ops))


def show(result: TxnResult) -> str:
    rec = result.record.to_bytes().hex() if result.record is not None else "-"
    events = ";".join(f"{e.type}:{e.path}:{[(a.perms, a.id.scheme) for a in e.acl]}"
                      for e in result.events)
    return f"{int(result.err)} {rec} {events}"


def codec(rng: random.Random) -> None:
    w = Writer()
    for v in (0, 1, -1, 2**31 - 1, -(2**31)):
        w.int(v)
    for v in (0, -1, 2**63 - 1, -(2**63)):
        w.long(v)
    w.bool(True)
    w.buffer(None)
    w.buffer(b"\x00\xff")
    w.ustring(None)
    w.ustring("z\u00e9\ud800")
    w.strings(["a", "", "\u2603"])
    raw = w.getvalue()
    emit("writer", raw)
    r = Reader(raw)
    values = [r.int() for _ in range(5)] + [r.long() for _ in range(4)]
    values += [r.bool(), r.buffer(), r.buffer(), r.ustring(), r.ustring(), r.strings()]
    emit("reader", repr(values) + f" pos={r.pos} left={r.remaining()}")
    for cut in range(0, len(raw), 7):  # every truncation fails the same way
        r = Reader(raw[:cut])
        try:
            for _ in range(5):
                r.int()
            for _ in range(4):
                r.long()
            r.bool(), r.buffer(), r.buffer(), r.ustring(), r.ustring(), r.strings()
        except ProtocolError as e:
            emit(f"reader cut {cut}", str(e))
    frames = b""
    for xid in range(40):
        op, req = random_write(rng)
        frames += encode_request(xid, op, req)
    fb = FrameBuffer()
    got: list[bytes] = []
    for i in range(0, len(frames), 97):
        got += fb.feed(frames[i : i + 97])
    for body in got:
        try:
            xid, op, req = decode_request(body)
            emit(f"request {xid}", f"{op} {req.to_bytes().hex()}")
        except ProtocolError as e:
            emit("request error", f"{type(e).__name__} {e}")
        for cut in (8, 12, len(body) - 1):
            try:
                emit("short", repr(decode_request(body[:cut])[2]))
            except ProtocolError as e:
                emit("short error", f"{type(e).__name__} {e}")
    try:
        FrameBuffer(max_frame=10).feed(b"\x00\x00\x00\x0b" + bytes(11))
    except ProtocolError as e:
        emit("frame error", str(e))
    emit("reply", encode_reply(7, 1 << 40, -101, CreateRequest("/x", b"y", OPEN, 0)))
    emit("event", encode_event(3, 3, "/\u00e9"))


def random_value(rng: random.Random, kind: str) -> object:
    """A value of a layout kind (roost.wire.recordbase), nulls and odd text included."""
    if kind == "i":
        return rng.choice([0, -1, 1, 2**31 - 1, -(2**31), rng.randrange(-(2**31), 2**31)])
    if kind == "l":
        return rng.choice([0, -1, 2**63 - 1, -(2**63), rng.randrange(-(2**63), 2**63)])
    if kind == "z":
        return rng.random() < 0.5
    if kind in ("s", "n"):
        if kind == "n" and rng.random() < 0.2:
            return None
        return "".join(rng.choice(["a", "/", "\u00e9", "\u2603", "\ud800", "\U0001f600"])
                       for _ in range(rng.choice([0, 1, 5, 40])))
    if kind == "b":
        return None if rng.random() < 0.2 else rng.randbytes(rng.choice([0, 1, 7, 300]))
    if kind == "[s]":
        return [random_value(rng, "s") for _ in range(rng.choice([0, 1, 3]))]
    if kind.startswith("["):
        return [random_value(rng, kind[1:-1]) for _ in range(rng.choice([0, 1, 2, 4]))]
    cls = getattr(records_module, kind)
    layout = codegen.parse_layout(cls._layout)
    return cls(*(random_value(rng, k) for _, k in layout))


def records_corpus(rng: random.Random) -> None:
    """Every generated record codec (roost.wire.record_codecs): random values written and
    read back, every truncation, a byte string that is not UTF-8, a bad length."""
    layouts = codegen.read_layouts(codegen.SOURCE.read_text())
    for rec in layouts:
        cls = getattr(records_module, rec.name)
        for i in range(12):
            value = random_value(rng, rec.name)
            raw = value.to_bytes()  # type: ignore[attr-defined]
            emit(f"record {rec.name} {i}", raw)
            again = cls.from_bytes(raw)
            emit(f"record {rec.name} {i} read", f"{again == value} {again!r}")
            emit(f"record {rec.name} {i} twice", cls.from_bytes(raw + b"tail") == value)
            for cut in sorted({0, 1, 3, len(raw) // 2, len(raw) - 1} - {len(raw)}):
                if 0 <= cut < len(raw):
                    try:
                        emit(f"record {rec.name} {i} cut {cut}", repr(cls.from_bytes(raw[:cut])))
                    except ProtocolError as e:
                        emit(f"record {rec.name} {i} cut {cut}", f"{type(e).__name__} {e}")
            for pos in range(0, len(raw), max(1, len(raw) // 6)):  # damaged bytes
                bad = bytearray(raw)
                bad[pos] = rng.choice([0x80, 0xFF, 0x7F])
                try:
                    emit(f"record {rec.name} {i} bad {pos}", repr(cls.from_bytes(bytes(bad))))
                except ProtocolError as e:
                    emit(f"record {rec.name} {i} bad {pos}", f"{type(e).__name__} {e}")


def tree_corpus(rng: random.Random) -> None:
    tree = DataTree(TreeConfig(container_max_never_used_ms=5))
    zxid = 0
    for sid in (1, 2):
        zxid += 1
        txn = Txn(Kind.CREATE_SESSION, sid, 1000, (), 0, b"pw%d" % sid, 30_000, 1, 2, zxid)
        emit(f"txn {zxid}", txn.to_bytes())
        emit(f"apply {zxid}", show(apply_txn(tree, zxid, Txn.from_bytes(txn.to_bytes()))))
    for _ in range(3000):
        zxid += 1
        op, req = random_write(rng)
        roll = rng.random()
        sid, t = rng.choice([0, 1, 2, 3]), 1000 + zxid * rng.choice([0, 1, 7])
        if roll < 0.005:
            txn = Txn(Kind.CLOSE_SESSION, rng.choice([1, 2, 9]), t)
        elif roll < 0.02:
            txn = Txn(Kind.CREATE_SESSION, rng.choice([1, 2]), t, (), 0, b"pw", 10_000)
        elif roll < 0.05:
            txn = Txn(Kind.REAP, 0, t, body=random_path(rng).encode("utf-8", "surrogatepass"))
        elif roll < 0.06:
            txn = Txn(Kind.NOOP, 0, t)
        else:
            body = req.to_bytes()
            decoded = req if rng.random() < 0.5 else None  # the proposer's own, or decoded
            txn = Txn(Kind.REQUEST, sid, t, rng.choice(AUTHS), op, body, request=decoded)
        txn.origin, txn.boot, txn.seq = 1, 5, zxid
        raw = txn.to_bytes()
        emit(f"txn {zxid}", raw)
        emit(f"apply {zxid}", show(apply_txn(tree, zxid, txn)))
        if zxid % 250 == 0:
            emit(f"digest {zxid}", tree.digest())
            emit(f"candidates {zxid}", tree.reap_candidates(t + 10))
    snap = tree.to_bytes()
    emit("snapshot", snap)
    again = DataTree.from_bytes(snap, tree.config)
    emit("reloaded", again.to_bytes() == snap and again.digest() == tree.digest())
    for path in sorted(tree.nodes):
        node = tree.nodes[path]
        emit(f"node {path!r}", f"{node.stat().to_bytes().hex()} {node.kind} {node.owner}")
    emit("sizes", (tree.node_count(), tree.approximate_data_size(), tree.ephemeral_count()))
    emit("ephemerals", tree.ephemerals(1) + tree.ephemerals(2, "/a"))
    for bad in (b"", b"\x93\x01\x02\x03", snap[: len(snap) // 2]):
        try:
            DataTree.from_bytes(bad)
        except ValueError as e:
            emit("bad snapshot", f"{type(e).__name__} {e}")
    try:
        Txn.from_bytes(b"\x91\x01")
    except ProtocolError as e:
        emit("bad txn", str(e))


def replica_corpus(rng: random.Random) -> None:
    members = {i: Member(i, "127.0.0.1", 2180 + i, 2880 + i) for i in (1, 2, 3)}
    applied: list[str] = []
    s = ReplicaState(1, 77, TreeConfig(), members,
                     lambda z, t, r: applied.append(f"{z} {t.seq} {show(r)}"))
    s.load(b"", members)
    replies: list[str] = []
    index = 0
    for i in range(300):
        op, req = random_write(rng)
        txn = Txn(Kind.REQUEST, 0, 5000 + i, (), op, req.to_bytes(), request=req)
        if rng.random() < 0.5:  # ours, stamped, comes back through the log
            p = s.stamp(txn, lambda z, r: replies.append(f"{z} {show(r)}"), None, now=float(i))
            data = p.txn
        else:  # another member's
            txn.origin, txn.boot, txn.seq = 2, 9, i
            data = txn.to_bytes()
        index += 1
        s.apply(Entry(1, index, EntryKind.NORMAL, data))
        if rng.random() < 0.1:  # resent: applied once
            index += 1
            s.apply(Entry(1, index, EntryKind.NORMAL, data))
        if rng.random() < 0.05:
            index += 1
            s.apply(Entry(1, index, EntryKind.NORMAL, b""))
    emit("applied", "|".join(applied))
    emit("replies", "|".join(replies))
    emit("image", s.image())
    emit("dedupe", s.dedupe.to_list())
    emit("last", (s.last_index, s.tree.last_zxid, s.config_text()))


def protocol_corpus(rng: random.Random) -> None:
    """One client connection's protocol object: handshake, requests, pings, auth, replies
    out of order, a bad body, an unknown opcode."""
    proto = ClientProtocol(lambda: 42, four_letter_words=("ruok",))
    stream = encode_frame(ConnectRequest(0, 0, 10_000, 0, bytes(16), False))
    for xid in range(1, 120):
        roll = rng.random()
        if roll < 0.1:
            stream += encode_request(-2, Op.PING, Empty())
        elif roll < 0.15:
            stream += encode_request(xid, Op.AUTH, AuthPacket(0, "digest", b"u:p"))
        elif roll < 0.5:
            stream += encode_request(xid, Op.GET_DATA, GetDataRequest(random_path(rng), True))
        else:
            stream += encode_request(xid, *random_write(rng))
    stream += encode_request(500, Op.GET_DATA, None)  # no body: MarshallingError
    stream += encode_request(501, 999, None)  # unknown: answered, then the connection closes
    pending = []
    pos = 0
    while pos < len(stream) or proto.pending:
        step = rng.choice([1, 5, 40, 400])
        proto.receive_data(stream[pos : pos + step])
        pos += step
        while (ev := proto.next_event()) is not None:
            emit("event", type(ev).__name__ + " " + repr(getattr(ev, "xid", "")))
            if isinstance(ev, Connect):
                proto.connected(0x1234, b"p" * 16, 10_000)
            elif isinstance(ev, Request):
                if rng.random() < 0.5:
                    proto.reply(encode_reply(ev.xid, 42, 0, ev.record))
                else:
                    pending.append((proto.reserve(), ev.xid, ev.record))
            if pending and rng.random() < 0.3:
                slot, xid, rec = pending.pop(rng.randrange(len(pending)))
                proto.complete(slot, encode_reply(xid, 43, -101 if rng.random() < 0.3 else 0, rec))
        out = proto.drain()
        if out:
            emit("drained", b"".join(out))
        if pos > len(stream) + 1000:
            break
    for slot, xid, rec in pending:
        proto.complete(slot, encode_reply(xid, 44, 0, rec))
    emit("drained", b"".join(proto.drain()))
    emit("protocol", (proto.state, proto.frames_in, proto.abort_reason, proto.closing))


def history_corpus(rng: random.Random) -> None:
    """The watch history (roost.server.history): appends with trimming by count, bytes and
    age, queries by path, images written and read back, bad images."""
    limits = history.Limits(max_events=60, max_bytes=9000, max_age_ms=5000)
    h = history.EventHistory(limits)
    acls = [tuple(OPEN), (ACL(1, Id("digest", "u:x")),), ()]
    zxid, t = 0, 1000
    for step in range(400):
        zxid += rng.choice([1, 1, 2])
        t += rng.choice([0, 1, 10, 400])
        events = [history.HistoryEvent(rng.choice([1, 2, 3, 4, 5]),
                                       "/" + "/".join(rng.choices(NAMES, k=rng.randint(1, 3))),
                                       rng.choice([None, b"", rng.randbytes(40)]),
                                       rng.choice(acls))
                  for _ in range(rng.choice([0, 1, 1, 3]))]
        h.append(zxid, t, events)
        emit(f"history {step}", (h.floor, h.last, h.last_time_ms, h.events, h.bytes, len(h)))
        if step % 20 == 0:
            for path, recursive in (("/", True), ("/a", True), ("/a", False), ("/b/c", True)):
                since = rng.choice([h.floor, h.floor + 3, max(h.floor - 1, 0), h.last])
                try:
                    got = h.after(since, path, recursive)
                    emit(f"history after {since} {path} {recursive}",
                         [(z, [(e.type, e.path, e.data, e.size) for e in evs]) for z, evs in got])
                except history.Compacted as e:
                    emit(f"history after {since}", f"Compacted {e.floor} {e}")
            image = history.encode(h, h.last + step % 2)
            emit(f"history image {step}", image)
            again = history.decode(image, limits)
            emit(f"history reloaded {step}",
                 (again.floor, again.last, again.events, again.bytes, history.encode(again,
                                                                                    again.last)))
    try:
        h.append(h.last, t, [])
    except ValueError as e:
        emit("history out of order", str(e))
    good = history.encode(h, h.last)
    for bad in (b"", b"\x93\x01\x02\x03", good[: len(good) // 2], good.replace(b"roost", b"boost"),
                b"\x92\xadroost-history\x02", b"\x97\xadroost-history\x01\xff\x00\x00\x90\x90"):
        try:
            history.decode(bad)
            emit("bad history image", "accepted")
        except history.HistoryImageError as e:
            emit("bad history image", f"{type(e).__name__} {e}")


def sim_corpus() -> None:
    """The deterministic simulator (raft, the replica core, sessions, membership): every
    traced event of a few seeds."""
    for nodes, seed in ((3, 1), (5, 2), (3, 3)):
        cluster = SimCluster(nodes, seed, frozenset(), trace=True)
        stats = cluster.run()
        for line in cluster.trace or []:
            emit(f"sim {nodes}/{seed}", line)
        emit(f"sim {nodes}/{seed} stats", repr(stats))


def main() -> None:
    emit("compiled", ",".join(compiled_modules()) or "none")
    rng = random.Random(17)
    codec(rng)
    records_corpus(random.Random(1717))  # its own generator: the rest stays as it was
    tree_corpus(rng)
    replica_corpus(rng)
    protocol_corpus(rng)
    history_corpus(random.Random(1718))
    sim_corpus()
    emit("create modes", [int(m) for m in CreateMode])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
