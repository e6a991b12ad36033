"""PeerTransport: delivery order, authentication, restarts, bad frames, bounded queues, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

from roost.server.peerauth import (
    FRAME_HEADER,
    HELLO,
    MAC_LEN,
    ROLE_ACCEPTOR,
    decode_hello,
    encode_frame_header,
    encode_hello,
    new_nonce,
    proof,
)
from roost.server.peers import PeerTransport
from roost.testing.wait import wait_until_async

from .helpers import (
    LOCAL,
    SECRET,
    Member,
    all_connected,
    close_all,
    closed_by_peer,
    make_tls,
    mesh,
    raw_dial,
    run,
)


def test_three_members_deliver_in_order_on_every_pair() -> None:
    async def body() -> None:
        members = await mesh([1, 2, 3], rng=random.Random(1))
        by_id = {m.my_id: m for m in members}
        try:
            await all_connected(members)
            rng = random.Random(7)
            expected: dict[tuple[int, int], list[tuple[int, bytes]]] = {}
            for i in range(300):
                a, b = rng.sample(members, 2)
                channel = rng.randrange(256)
                payload = f"{a.my_id}->{b.my_id}#{i};".encode() * rng.randint(1, 50)
                assert a.t.send(b.my_id, channel, payload)
                expected.setdefault((a.my_id, b.my_id), []).append((channel, payload))
            assert len(expected) == 6
            total = sum(len(v) for v in expected.values())
            await wait_until_async(lambda: sum(len(m.messages) for m in members) == total, 5,
                                   what="delivery")
            for (frm, to), sent in expected.items():
                got = [(c, p) for f, c, p in by_id[to].messages if f == frm]
                assert got == sent
            for m in members:
                ups = sorted(p for kind, p in m.events if kind == "up")
                assert ups == sorted(set(by_id) - {m.my_id})
                assert not [e for e in m.events if e[0] == "down"]
            st = by_id[1].t.stats[2]
            assert st.messages_sent == len(expected[(1, 2)])
            assert by_id[2].t.stats[1].messages_received == st.messages_sent
            assert by_id[2].t.stats[1].bytes_received == st.bytes_sent
        finally:
            await close_all(members)

    run(body)


def test_large_payload_and_empty_payload() -> None:
    async def body() -> None:
        members = await mesh([1, 2])
        a, b = members
        try:
            await all_connected(members)
            big = random.Random(3).randbytes(3 * 1024 * 1024 + 17)
            assert a.t.send(2, 0, b"")
            assert a.t.send(2, 1, big)
            assert a.t.send(2, 2, b"after")
            await wait_until_async(lambda: len(b.messages) == 3, 5, what="3 messages")
            assert b.messages == [(1, 0, b""), (1, 1, big), (1, 2, b"after")]
        finally:
            await close_all(members)

    run(body)


def test_wrong_secret_is_rejected_both_ways_and_injects_nothing() -> None:
    async def body() -> None:
        a = Member(1, secret=b"secret-one")
        b = Member(2, secret=b"secret-two")
        await a.start({})
        await b.start({})
        try:
            a.t.update_peers({2: b.addr})
            b.t.update_peers({1: a.addr})
            # Each side's dial is refused by the other: both see a failed proof.
            await wait_until_async(
                lambda: a.t.stats[2].handshake_failures >= 2
                and b.t.stats[1].handshake_failures >= 2, 5,
                what="handshake failures on both sides",
            )
            assert not a.t.connected(2) and not b.t.connected(1)
            assert not a.t.send(2, 0, b"hello") and not b.t.send(1, 0, b"hello")
            assert a.messages == [] and b.messages == []
            assert a.events == [] and b.events == []
        finally:
            await close_all([a, b])

    run(body)


def test_unauthenticated_connections_deliver_nothing() -> None:
    async def body() -> None:
        a = Member(1)
        await a.start({2: (LOCAL, 1)})
        try:
            # 1. frames without any handshake
            r, w = await asyncio.open_connection(LOCAL, a.t.port)
            w.write(encode_frame_header(0, 5) + b"hello" * 20)
            assert await closed_by_peer(r)
            # 2. a member id that is not in the membership
            r, w = await asyncio.open_connection(LOCAL, a.t.port)
            w.write(encode_hello(9, new_nonce()))
            assert await closed_by_peer(r)
            # 3. a known id, but a proof made with the wrong secret
            r, w = await asyncio.open_connection(LOCAL, a.t.port)
            nonce_d = new_nonce()
            w.write(encode_hello(2, nonce_d))
            hello = decode_hello(await r.readexactly(HELLO.size))
            mac_a = await r.readexactly(MAC_LEN)
            w.write(proof(b"wrong", b"dialer", 2, 1, nonce_d, hello.nonce))
            w.write(encode_frame_header(0, 5) + b"evil!")
            assert await closed_by_peer(r)
            # 4. reflection: hand the acceptor's own proof back as the dialer's
            r, w = await asyncio.open_connection(LOCAL, a.t.port)
            w.write(encode_hello(2, nonce_d))
            hello = decode_hello(await r.readexactly(HELLO.size))
            mac_a = await r.readexactly(MAC_LEN)
            assert mac_a == proof(SECRET, ROLE_ACCEPTOR, 2, 1, nonce_d, hello.nonce)
            w.write(mac_a + encode_frame_header(0, 5) + b"evil!")
            assert await closed_by_peer(r)
            # 5. replay of a recorded, once-valid dialer transcript: the acceptor's nonce differs
            r, w = await asyncio.open_connection(LOCAL, a.t.port)
            hello_d = encode_hello(2, nonce_d)
            w.write(hello_d)
            hello = decode_hello(await r.readexactly(HELLO.size))
            await r.readexactly(MAC_LEN)
            mac_d = proof(SECRET, b"dialer", 2, 1, nonce_d, hello.nonce)
            w.write(mac_d)
            assert await r.readexactly(1) == b"\x01"
            w.write(encode_frame_header(0, 5) + b"valid")
            await wait_until_async(lambda: a.from_peer(2) == [b"valid"], 5,
                                   what="the genuine frame")
            r, w = await asyncio.open_connection(LOCAL, a.t.port)
            w.write(hello_d + mac_d + encode_frame_header(0, 5) + b"again")
            assert await closed_by_peer(r)
            assert a.from_peer(2) == [b"valid"]
            assert a.messages == [(2, 0, b"valid")]
            assert a.t.auth_failures == 5
            assert a.t.stats[2].handshake_failures == 3
        finally:
            await a.t.close()

    run(body)


def test_restarted_peer_reconnects_quickly_and_callbacks_fire() -> None:
    async def body() -> None:
        members = await mesh([1, 2, 3], backoff_max=0.5)
        a, b, c = members
        try:
            await all_connected(members)
            port_b = b.t.port
            await b.t.close()
            # Both of b's links with a closed; a hears of it at once, not after a timeout.
            await wait_until_async(lambda: a.count("down", 2) == 1 and c.count("down", 2) == 1,
                                   timeout=2, what="peer down")
            assert not a.t.connected(2)
            assert not a.t.send(2, 0, b"lost")
            assert a.t.stats[2].dropped == 1
            b2 = Member(2)
            await b2.start({1: a.addr, 3: c.addr}, port=port_b)
            members[1] = b2
            await wait_until_async(
                lambda: a.count("up", 2) == 2 and a.t.connected(2) and b2.t.connected(1),
                timeout=5, what="reconnect")
            assert a.t.send(2, 0, b"again") and b2.t.send(1, 0, b"back")
            await wait_until_async(
                lambda: b2.from_peer(1) == [b"again"] and a.from_peer(2) == [b"back"], 5,
                what="messages after restart")
            assert a.t.stats[2].reconnects == 1
            assert a.events.count(("down", 2)) == 1
        finally:
            await close_all(members)

    run(body)


def test_malformed_frame_closes_only_that_link() -> None:
    async def body() -> None:
        a = Member(1)
        c = Member(3)
        await a.start({})
        await c.start({1: a.addr})
        a.t.update_peers({2: (LOCAL, 1), 3: c.addr})
        try:
            await wait_until_async(lambda: c.t.connected(1), 5, what="c connected")
            r, w = await raw_dial(a.t.port, 2, 1)
            w.write(encode_frame_header(4, 2) + b"ok")
            await wait_until_async(lambda: a.from_peer(2) == [b"ok"], 5, what="valid frame")
            w.write(FRAME_HEADER.pack(0, 0) + encode_frame_header(4, 3) + b"bad")
            assert await closed_by_peer(r)
            await wait_until_async(lambda: a.count("down", 2) == 1, 5, what="down(2)")
            assert a.from_peer(2) == [b"ok"]
            assert a.t.stats[2].protocol_errors == 1
            assert c.t.connected(1) and c.t.send(1, 0, b"still fine")
            await wait_until_async(lambda: a.from_peer(3) == [b"still fine"], 5, what="c's message")
            assert a.count("down", 3) == 0
        finally:
            await close_all([a, c])

    run(body)


def test_oversize_frame_closes_the_link() -> None:
    async def body() -> None:
        a = Member(1, kwargs={"max_frame": 1000})
        await a.start({2: (LOCAL, 1)})
        try:
            r, w = await raw_dial(a.t.port, 2, 1)
            w.write(encode_frame_header(0, 1000) + b"x" * 1000)
            await wait_until_async(lambda: len(a.messages) == 1, 5, what="frame at the limit")
            # the header alone is enough to reject it: no need to send the body
            w.write(encode_frame_header(0, 1001))
            assert await closed_by_peer(r)
            assert a.t.stats[2].protocol_errors == 1
            assert len(a.messages) == 1
            # a sender refuses to send what the far side would reject
            assert not a.t.send(2, 0, b"y" * 1001)
        finally:
            await a.t.close()

    run(body)


def test_data_on_a_send_only_link_closes_it() -> None:
    async def body() -> None:
        got_up = asyncio.Event()

        async def fake_acceptor(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            hello = decode_hello(await r.readexactly(HELLO.size))
            nonce_a = new_nonce()
            args = (hello.member_id, 2, hello.nonce, nonce_a)
            w.write(encode_hello(2, nonce_a) + proof(SECRET, ROLE_ACCEPTOR, *args))
            await r.readexactly(MAC_LEN)
            w.write(b"\x01")
            await got_up.wait()
            w.write(b"unexpected")
            await closed_by_peer(r)

        server = await asyncio.start_server(fake_acceptor, LOCAL, 0)
        a = Member(1)
        await a.start({2: (LOCAL, server.sockets[0].getsockname()[1])})
        try:
            await wait_until_async(lambda: a.t.connected(2), 5, what="connected")
            got_up.set()
            await wait_until_async(lambda: a.count("down", 2) >= 1, 5, what="down after stray data")
            assert a.t.stats[2].protocol_errors >= 1
        finally:
            await a.t.close()
            server.close()

    run(body)


def test_queue_is_bounded_when_peer_is_down_or_not_reading() -> None:
    async def body() -> None:
        stall = asyncio.Event()

        async def slow_acceptor(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            hello = decode_hello(await r.readexactly(HELLO.size))
            nonce_a = new_nonce()
            args = (hello.member_id, 2, hello.nonce, nonce_a)
            w.write(encode_hello(2, nonce_a) + proof(SECRET, ROLE_ACCEPTOR, *args))
            await r.readexactly(MAC_LEN)
            w.write(b"\x01")
            await stall.wait()  # never read again

        limit = 256 * 1024
        a = Member(1, kwargs={"max_queue_bytes": limit})
        await a.start({2: (LOCAL, 1)})
        try:
            # nothing listens at the peer's address: every send is dropped, nothing queued
            for _ in range(100):
                assert not a.t.send(2, 0, b"z" * 1000)
            assert a.t.stats[2].dropped == 100
            server = await asyncio.start_server(slow_acceptor, LOCAL, 0)
            a.t.update_peers({2: (LOCAL, server.sockets[0].getsockname()[1])})
            await wait_until_async(lambda: a.t.connected(2), 5, what="connected to slow peer")
            chunk = b"q" * 16384
            accepted = 0
            for _ in range(20000):
                if not a.t.send(2, 0, chunk):
                    break
                accepted += 1
                await asyncio.sleep(0)
            else:
                raise AssertionError("the queue never filled")
            link = a.t._out[2]
            assert link.queued_bytes() <= limit
            assert a.t.stats[2].dropped == 101
            assert accepted > limit // len(chunk)
            server.close()
        finally:
            stall.set()
            await a.t.close()

    run(body)


def test_update_peers_adds_and_removes_members() -> None:
    async def body() -> None:
        members = await mesh([1, 2])
        a, b = members
        c = Member(3)
        try:
            await all_connected(members)
            await c.start({1: a.addr, 2: b.addr})
            table = {1: a.addr, 2: b.addr, 3: c.addr}
            a.t.update_peers(table)
            b.t.update_peers(table)
            members.append(c)
            await all_connected(members)
            # remove member 3 from a's view: links close, down fires, its dials are refused
            failures = c.t.stats[1].dial_failures
            rejected = a.t.auth_failures
            a.t.update_peers({1: a.addr, 2: b.addr})
            await wait_until_async(lambda: a.count("down", 3) == 1, 5, what="down(3)")
            assert not a.t.send(3, 0, b"gone")
            await wait_until_async(lambda: c.t.stats[1].dial_failures > failures, 5,
                                   what="c's redial refused")
            assert a.t.auth_failures > rejected
            assert not c.t.connected(1) and c.count("down", 1) == 1
            assert a.t.connected(2) and a.t.send(2, 0, b"still")
            await wait_until_async(lambda: b.from_peer(1) == [b"still"], 5, what="a->b")
        finally:
            await close_all(members)

    run(body)


def test_a_member_not_in_the_configuration_is_told_so_after_proving_itself() -> None:
    async def body() -> None:
        # member 1's configuration (version 0x2a) has member 2 only; 9 is not in it, 5 is a
        # member its host has not linked with yet (no say: closed without a reason)
        a = Member(1, kwargs={"refusal": lambda peer: None if peer == 5 else 0x2A})
        await a.start({2: (LOCAL, 1)})
        told: list[tuple[int, int]] = []
        c = Member(9, kwargs={"on_refused": lambda peer, version: told.append((peer, version))})
        await c.start({1: a.addr})
        d = Member(5, kwargs={"on_refused": lambda peer, version: told.append((5, version))})
        try:
            await wait_until_async(lambda: len(told) >= 2, 5, what="two refusals")
            assert set(told) == {(1, 0x2A)} and c.t.stats[1].refused == len(told)
            assert not c.t.connected(1) and c.events == [] and a.events == []
            assert a.t.auth_failures == 0  # a refusal is no authentication failure
            # nothing it sends is delivered, and a wrong secret learns nothing
            r, w = await asyncio.open_connection(LOCAL, a.t.port)
            nonce_d = new_nonce()
            w.write(encode_hello(9, nonce_d))
            hello = decode_hello(await r.readexactly(HELLO.size))
            await r.readexactly(MAC_LEN)
            w.write(proof(b"wrong", b"dialer", 9, 1, nonce_d, hello.nonce))
            got = b""
            with contextlib.suppress(ConnectionError):
                async with asyncio.timeout(5):
                    while chunk := await r.read(100):
                        got += chunk
            assert got == b""  # closed without an answer
            w.close()
            assert a.t.auth_failures == 1
            # the host with no say: closed without a reason, nothing reported
            await d.start({1: a.addr})
            await wait_until_async(lambda: a.t.auth_failures >= 3, 5, what="5's dials rejected")
            assert d.t.stats[1].refused == 0 and all(p != 5 for p, _ in told)
            assert a.messages == []
        finally:
            await close_all([a, c, d])

    run(body)


def test_tls_links(tmp_path: Path) -> None:
    server_ctx, client_ctx = make_tls(tmp_path)

    async def body() -> None:
        members = await mesh([1, 2], ssl_server=server_ctx, ssl_client=client_ctx)
        a, b = members
        plain = Member(3)
        try:
            await all_connected(members)
            assert a.t.send(2, 1, b"secret stuff") and b.t.send(1, 2, b"reply")
            await wait_until_async(lambda: b.messages == [(1, 1, b"secret stuff")]
                                   and a.messages == [(2, 2, b"reply")], 5, what="TLS delivery")
            link = a.t._out[2]
            assert link.writer.get_extra_info("ssl_object") is not None
            # a member dialing without TLS never gets in
            await plain.start({})
            a.t.update_peers({2: b.addr, 3: plain.addr})
            plain.t.update_peers({1: a.addr})
            st = plain.t.stats[1]
            await wait_until_async(lambda: st.dial_failures + st.handshake_failures >= 2, 5,
                                   what="plain fails")
            assert not plain.t.connected(1) and st.connects == 0
            assert a.from_peer(3) == []
        finally:
            await close_all([*members, plain])

    run(body)


def test_constructor_rejects_empty_secret() -> None:
    try:
        PeerTransport(1, (LOCAL, 0), {}, b"", lambda f, c, p: None)
    except ValueError as exc:
        assert "secret" in str(exc)
    else:
        raise AssertionError("empty secret accepted")


def test_writes_are_coalesced_per_loop_iteration() -> None:
    async def body() -> None:
        members = await mesh([1, 2])
        a, b = members
        try:
            await all_connected(members)
            writer = a.t._out[2].writer
            calls: list[int] = []
            real_write = writer.write

            def counting_write(data: bytes | bytearray | memoryview) -> None:
                calls.append(len(data))
                real_write(data)

            writer.write = counting_write  # type: ignore[method-assign]
            for i in range(1000):
                assert a.t.send(2, 0, b"%d" % i)
            await wait_until_async(lambda: len(b.messages) == 1000, 5, what="1000 messages")
            assert len(calls) == 1
            assert b.from_peer(1) == [b"%d" % i for i in range(1000)]
        finally:
            await close_all(members)

    run(body)


def test_send_never_raises_on_bad_arguments() -> None:
    async def body() -> None:
        members = await mesh([1, 2])
        a, _ = members
        try:
            await all_connected(members)
            assert not a.t.send(2, 256, b"x")
            assert not a.t.send(2, -1, b"x")
            assert not a.t.send(99, 0, b"x")
            assert not a.t.send(1, 0, b"to myself")
            assert a.t.stats[2].dropped == 2
        finally:
            await close_all(members)

    run(body)


def test_a_peer_that_keeps_dropping_us_is_backed_off() -> None:
    async def body() -> None:
        accepted = 0

        async def hostile(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            hello = decode_hello(await r.readexactly(HELLO.size))
            nonce_a = new_nonce()
            args = (hello.member_id, 2, hello.nonce, nonce_a)
            w.write(encode_hello(2, nonce_a) + proof(SECRET, ROLE_ACCEPTOR, *args))
            await r.readexactly(MAC_LEN)
            w.write(b"\x01")
            w.close()  # accept, then hang up at once

        server = await asyncio.start_server(hostile, LOCAL, 0)
        a = Member(1, kwargs={"rng": random.Random(5)})
        await a.start({2: (LOCAL, server.sockets[0].getsockname()[1])})
        try:
            await wait_until_async(lambda: a.t.stats[2].connects >= 2, 5,
                                   what="two short-lived links")
            # a window of 0.5 s is what is tested: how many reconnects fit in it
            await asyncio.sleep(0.5)
            # pauses after flapping links are >= 25, 50, 100, 200 ms...: a handful, not hundreds
            assert 2 <= a.t.stats[2].connects <= 8
            assert a.count("down", 2) == a.t.stats[2].connects - (1 if a.t.connected(2) else 0)
        finally:
            await a.t.close()
            server.close()

    run(body)


def test_mutual_tls_rejects_a_member_without_the_client_certificate(tmp_path: Path) -> None:
    server_ctx, client_ctx = make_tls(tmp_path, mutual=True)
    # a stranger's client context trusts the server but has no client certificate
    _, stranger_ctx = make_tls(tmp_path, label="stranger")
    stranger_ctx.load_verify_locations(cafile=str(tmp_path / "member-cert.pem"))

    async def body() -> None:
        members = await mesh([1, 2], ssl_server=server_ctx, ssl_client=client_ctx)
        a, b = members
        stranger = Member(3, kwargs={"ssl_client": stranger_ctx})
        try:
            await all_connected(members)
            assert a.t.send(2, 0, b"mtls")
            await wait_until_async(lambda: b.messages == [(1, 0, b"mtls")], 5, what="mTLS delivery")
            await stranger.start({})
            a.t.update_peers({2: b.addr, 3: stranger.addr})
            stranger.t.update_peers({1: a.addr})
            st = stranger.t.stats[1]
            await wait_until_async(lambda: st.dial_failures >= 2, 5, what="stranger refused")
            assert st.connects == 0 and not stranger.t.connected(1)
            assert a.from_peer(3) == []
        finally:
            await close_all([*members, stranger])

    run(body)
