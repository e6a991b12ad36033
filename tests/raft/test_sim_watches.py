"""The simulator's watch checks (roost.testing.sim.watches): each fails on the history it
exists to refuse, and passes ZooKeeper's behaviour, with the server's own watch table."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from roost.server.watches import WatchManager
from roost.testing.sim import InvariantViolation
from roost.testing.sim.watches import (
    CHANGED,
    CHILD,
    CHILDREN,
    CREATED,
    DATA,
    DELETED,
    EXIST,
    ClientWatches,
    History,
    SimConnection,
)
from roost.tree import DataTree, WatchEvent
from roost.tree.context import TxnContext
from roost.wire.errors import Err
from roost.wire.opcodes import Op, WatcherType
from roost.wire.protocol import encode_reply
from roost.wire.records import ACL, CreateRequest, DeleteRequest, Id, SetDataRequest, SetWatches2

A, ROOT = "/s/a", "/s"


def _ev(t: int, path: str) -> WatchEvent:
    return WatchEvent(t, path, ())


def _apply(w: ClientWatches, table: WatchManager, zxid: int, *events: tuple[int, str],
           member: int = 1, incarnation: int = 1) -> None:
    """A member applies `zxid` with these events, as the simulated host does."""
    evs = [_ev(t, p) for t, p in events]
    w.applied(zxid, evs)
    table.trigger(evs)
    w.fired(member, incarnation, zxid)


def test_history_first_change_and_existence() -> None:
    h = History()
    h.record(3, [_ev(CREATED, A), _ev(CHILDREN, ROOT)])
    h.record(5, [_ev(CHANGED, A)])
    h.record(5, [_ev(DELETED, A)])  # a second member applying 5: recorded once
    h.record(8, [_ev(DELETED, A), _ev(CHILDREN, ROOT)])
    h.record(9, [_ev(CREATED, "/p1")])  # outside the namespace: not recorded
    assert h.first_after(A, EXIST, 0) == (3, CREATED)
    assert h.first_after(A, DATA, 3) == (5, CHANGED)
    assert h.first_after(A, CHILD, 3) == (8, DELETED)
    assert h.first_after(ROOT, CHILD, 3) == (8, CHILDREN)
    assert h.first_after(A, DATA, 8) is None
    assert [h.exists_at(A, z) for z in (2, 3, 7, 8)] == [False, True, True, False]
    assert "/p1" not in h.by_path


def test_a_watch_fires_once_with_its_due_event() -> None:
    w, table = ClientWatches(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    _apply(w, table, 1, (CREATED, ROOT))
    table.add_data(A, conn)
    w.set(conn, A, EXIST, 1)
    w.reply(conn, 1, "exists")
    _apply(w, table, 2, (CREATED, A), (CHILDREN, ROOT))
    assert w.stats.events == 1 and not w.pending[0]
    w.reply(conn, 2, "create", write=True)
    assert w.stats.own_write_events == 1


def test_a_second_event_is_refused() -> None:
    w = ClientWatches()
    conn = w.connect(0, 1, 1, 0)
    w.set(conn, A, DATA, 1)
    w.applied(2, [_ev(CHANGED, A)])
    w.on_event(conn, CHANGED, A, 2)
    w.applied(3, [_ev(CHANGED, A)])
    with pytest.raises(InvariantViolation, match="does not watch"):
        w.on_event(conn, CHANGED, A, 3)


def test_an_event_other_than_the_due_one_is_refused() -> None:
    w = ClientWatches()
    conn = w.connect(0, 1, 1, 0)
    w.set(conn, A, DATA, 1)
    w.applied(2, [_ev(CHANGED, A)])
    w.applied(3, [_ev(DELETED, A)])
    with pytest.raises(InvariantViolation, match="was due NODE_DATA_CHANGED at 2"):
        w.on_event(conn, DELETED, A, 3)  # the first change was missed


def test_a_member_that_applies_the_change_without_the_event_loses_it() -> None:
    w = ClientWatches()
    conn = w.connect(0, 1, 1, 0)
    w.set(conn, A, DATA, 1)
    w.applied(2, [_ev(CHANGED, A)])  # (nobody fires the watch)
    w.fired(2, 1, 2)  # another member: not the one holding the watch
    with pytest.raises(InvariantViolation, match="lost: node 1 applied zxid 2"):
        w.fired(1, 1, 2)


def test_the_reply_of_the_write_before_its_event_is_refused() -> None:
    w = ClientWatches()
    conn = w.connect(0, 1, 1, 0)
    w.set(conn, A, EXIST, 1)
    w.applied(2, [_ev(CREATED, A)])
    with pytest.raises(InvariantViolation, match="not the event NODE_CREATED"):
        w.reply(conn, 2, "create", write=True)


def test_an_event_after_a_reply_at_its_zxid_is_refused() -> None:
    w = ClientWatches()
    conn = w.connect(0, 1, 1, 0)
    w.set(conn, A, DATA, 1)
    w.applied(2, [_ev(CHANGED, A)])
    conn.last_reply = 2  # (as if a reply at 2 came first, unchecked)
    with pytest.raises(InvariantViolation, match="after a reply at zxid 2"):
        w.on_event(conn, CHANGED, A, 2)


def _log(seen: list[tuple[int, int]], xid: int) -> Callable[[int, int], None]:
    return lambda zxid, err: seen.append((xid, zxid))


def test_replies_come_in_request_order_through_the_servers_reply_queue() -> None:
    """A read sent behind a write is answered (evaluated) only once the write's reply
    went out (roost.wire.session.ReplyQueue), and the client matches each reply with its
    oldest request."""
    w = ClientWatches()
    conn = w.connect(0, 1, 1, 0)
    seen: list[tuple[int, int]] = []
    write = conn.request(int(Op.SET_DATA), _log(seen, 1))
    slot = conn.reserve()
    evaluated: list[int] = []
    read = conn.request(int(Op.GET_DATA), _log(seen, 2))
    conn.reply_later(read, lambda: (evaluated.append(7) or 7, 0))
    assert not evaluated and not seen  # it waits for the write
    conn.complete(slot, write, 6, 0)
    assert evaluated == [7] and seen == [(1, 6), (2, 7)]


def test_a_reply_to_any_but_the_oldest_request_is_refused() -> None:
    w = ClientWatches()
    conn = w.connect(0, 1, 1, 0)
    conn.request(int(Op.SET_DATA), lambda zxid, err: None)
    read = conn.request(int(Op.GET_DATA), lambda zxid, err: None)
    with pytest.raises(InvariantViolation, match=r"xid 2 .* oldest request in flight is 1"):
        conn.queue.emit(encode_reply(read.xid, 3, 0))  # (no reply queue: it overtakes)


def test_the_gate_holds_events_and_replies_in_order() -> None:
    """While the member may not answer the session, its output waits, in order; a watch
    event skips the reply queue (it is not held behind a pending write) but not the
    gate."""
    w, table = ClientWatches(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    open_ = [False]
    conn.gate = lambda: open_[0]
    conn.wake = lambda c: None  # (flushed by hand below)
    seen: list[tuple[int, int]] = []
    ping = conn.request(int(Op.PING), _log(seen, -2))
    conn.reply_later(ping, lambda: (1, 0))
    write = conn.request(int(Op.SET_DATA), _log(seen, 1))
    slot = conn.reserve()
    table.add_data(A, conn)
    w.set(conn, A, DATA, 1)
    _apply(w, table, 2, (CHANGED, A))  # the event is queued now: not lost
    conn.complete(slot, write, 2, 0)
    conn.flush()
    assert not seen and w.stats.events == 0 and len(conn.out) == 3
    open_[0] = True
    conn.flush()
    assert seen == [(-2, 1), (1, 2)] and w.stats.events == 1 and not conn.out


def test_a_session_that_ended_excuses_its_watches() -> None:
    w = ClientWatches()
    conn = w.connect(0, 1, 1, 0)
    w.set(conn, A, DATA, 1)
    w.session_ended(0)
    w.applied(2, [_ev(CHANGED, A)])
    w.fired(1, 1, 2)
    assert w.stats.excused == 1 and conn.closed


def _moved(w: ClientWatches, table: WatchManager, tree_zxid: int, rz: int,
           ignore_zxid: bool = False) -> list[tuple[int, str]]:
    """The client moves to a member whose tree (built from `w.history`) is at
    `tree_zxid`, and re-registers its watches with the server's setWatches."""
    tree = DataTree()
    acl = [ACL(31, Id("world", "anyone"))]
    changes = sorted((z, p, t) for p, cs in w.history.by_path.items() for z, t in cs
                     if z <= tree_zxid and t != CHILDREN)
    for zxid, path, t in changes:
        ctx = TxnContext(zxid, 0, 0)
        if t == CREATED:
            tree.apply(ctx, Op.CREATE, CreateRequest(path, b"", acl, 0))
        elif t == CHANGED:
            tree.apply(ctx, Op.SET_DATA, SetDataRequest(path, b"x", -1))
        else:
            tree.apply(ctx, Op.DELETE, DeleteRequest(path, -1))
    tree.last_zxid = tree_zxid
    conn = w.connect(0, 2, 1, rz)
    held = w.held(0)
    req = SetWatches2(tree_zxid if ignore_zxid else rz, held[DATA], held[EXIST], held[CHILD],
                      [], [])
    events = table.set_watches(tree, conn, req)
    w.reregistered(conn, rz, tree_zxid, events)
    return events


def test_setwatches_fires_what_changed_while_the_client_was_away() -> None:
    w, old, new = ClientWatches(), WatchManager(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    _apply(w, old, 1, (CREATED, ROOT))
    _apply(w, old, 2, (CREATED, A), (CHILDREN, ROOT))
    old.add_data(A, conn)
    old.add_child(ROOT, conn)
    w.set(conn, A, DATA, 2)
    w.set(conn, ROOT, CHILD, 2)
    w.set(conn, "/s/b", EXIST, 2)
    w.reply(conn, 2, "reads")
    # the client's member falls behind; another applies 3 and 4
    w.applied(3, [_ev(CHANGED, A)])
    w.applied(4, [_ev(CREATED, "/s/b"), _ev(CHILDREN, ROOT)])
    events = _moved(w, new, 4, 2)
    assert sorted(events) == sorted([(CHANGED, A), (CHILDREN, ROOT), (CREATED, "/s/b")])
    assert not w.pending[0]


def test_setwatches_that_ignores_the_clients_zxid_is_refused() -> None:
    w, new = ClientWatches(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    w.applied(1, [_ev(CREATED, ROOT)])
    w.applied(2, [_ev(CREATED, A), _ev(CHILDREN, ROOT)])
    w.set(conn, A, DATA, 2)
    w.reply(conn, 2, "getData")
    w.applied(3, [_ev(CHANGED, A)])
    with pytest.raises(InvariantViolation, match="expected \\[\\('NODE_DATA_CHANGED'"):
        _moved(w, new, 3, 2, ignore_zxid=True)


def test_setwatches_keeps_a_watch_with_nothing_new_due_from_the_members_zxid() -> None:
    w, new = ClientWatches(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    w.applied(1, [_ev(CREATED, ROOT)])
    w.set(conn, A, EXIST, 1)
    w.reply(conn, 1, "exists")
    # created and deleted while the client was away: ZooKeeper's setWatches misses it
    w.applied(2, [_ev(CREATED, A), _ev(CHILDREN, ROOT)])
    w.applied(3, [_ev(DELETED, A), _ev(CHILDREN, ROOT)])
    assert _moved(w, new, 3, 1) == []
    assert w.pending[0][(A, EXIST)].since == 3
    assert w.pending[0][(A, EXIST)].due is None
    w.applied(4, [_ev(CREATED, A), _ev(CHILDREN, ROOT)])
    assert w.pending[0][(A, EXIST)].due == (4, CREATED)


def test_a_recursive_watch_gets_every_change_below_once_and_in_order() -> None:
    """addWatch(PERSISTENT_RECURSIVE) with the server's table: every change under the path
    but NodeChildrenChanged, in zxid order; the watch stays."""
    w, table = ClientWatches(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    _apply(w, table, 1, (CREATED, ROOT))
    table.add_persistent(ROOT, conn, True)
    w.add_persistent(conn, ROOT, True, 1)
    _apply(w, table, 2, (CREATED, A), (CHILDREN, ROOT))
    _apply(w, table, 3, (CHANGED, A))
    _apply(w, table, 4, (DELETED, A), (CHILDREN, ROOT))
    assert w.stats.persistent_events == 3
    w.reply(conn, 4, "getData")  # nothing owed


def test_a_persistent_watch_that_misses_a_change_is_caught() -> None:
    w, table = ClientWatches(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    table.add_persistent(A, conn, False)
    w.add_persistent(conn, A, False, 1)
    _apply(w, table, 2, (CREATED, A))
    table.drop(conn)  # (the member forgets it, as persistent_fired_once does)
    w.applied(3, [_ev(CHANGED, A)])
    table.trigger([_ev(CHANGED, A)])
    with pytest.raises(InvariantViolation, match=r"persistent watch on /s/a .* lost an event"):
        w.fired(1, 1, 3)


def test_a_reply_before_a_persistent_watchs_event_is_refused() -> None:
    w = ClientWatches()
    conn = w.connect(0, 1, 1, 0)
    w.add_persistent(conn, A, False, 1)
    w.applied(2, [_ev(CHANGED, A)])
    with pytest.raises(InvariantViolation, match="not the event NODE_DATA_CHANGED /s/a at 2"):
        w.reply(conn, 2, "getData")
    w2 = ClientWatches()
    c2 = w2.connect(0, 1, 1, 0)
    w2.add_persistent(c2, A, False, 1)
    w2.applied(2, [_ev(CHANGED, A)])
    w2.applied(3, [_ev(DELETED, A)])
    with pytest.raises(InvariantViolation, match="was due NODE_DATA_CHANGED /s/a at 2"):
        w2.on_event(c2, DELETED, A, 3)  # out of order (the first change skipped)


def _remove(w: ClientWatches, table: WatchManager, conn: SimConnection, path: str,
            wtype: int, dry_run: bool = False) -> int:
    """removeWatches (checkWatches: `dry_run`) run by the member with the server's table,
    as the simulated member does at the request's turn; its reply reaches the client."""
    found = table.remove(path, conn, wtype, dry_run=dry_run)
    if not dry_run:
        w.removing(conn, path, wtype)
    err = 0 if found else int(Err.NO_WATCHER)
    w.removed(conn, path, wtype, err, dry_run)
    return err


def test_remove_watches_drops_the_watch_and_no_event_follows() -> None:
    """removeWatches(DATA) with the server's table: Ok, and the change after the reply fires
    nothing; a second remove is answered NoWatcher; checkWatches removes nothing; ANY takes
    a persistent watch too."""
    w, table = ClientWatches(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    _apply(w, table, 1, (CREATED, ROOT), (CREATED, A))
    table.add_data(A, conn)
    w.set(conn, A, DATA, 1)
    table.add_child(ROOT, conn)
    w.set(conn, ROOT, CHILD, 1)
    assert _remove(w, table, conn, A, WatcherType.CHILDREN) == Err.NO_WATCHER
    assert _remove(w, table, conn, A, WatcherType.DATA, dry_run=True) == 0
    assert _remove(w, table, conn, A, WatcherType.DATA) == 0
    assert _remove(w, table, conn, A, WatcherType.DATA) == Err.NO_WATCHER
    _apply(w, table, 2, (CHANGED, A))  # no event, none owed
    assert w.stats.events == 0
    table.add_persistent(ROOT, conn, False)
    w.add_persistent(conn, ROOT, False, 2)
    assert _remove(w, table, conn, ROOT, WatcherType.ANY) == 0  # the child and persistent
    _apply(w, table, 3, (DELETED, A), (CHILDREN, ROOT))
    assert w.stats.events == 0 and not w.pending[0] and not w.persistent[0]
    assert (w.stats.removes, w.stats.removed, w.stats.no_watcher) == (5, 2, 2)


def test_a_remove_answered_before_its_watch_fired_owes_no_event() -> None:
    """The member removed the watch at the request's turn; the reply is still held (the
    gate): a change applied meanwhile owes the client no event (nor does a reply)."""
    w, table = ClientWatches(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    table.add_data(A, conn)
    w.set(conn, A, DATA, 1)
    table.remove(A, conn, WatcherType.DATA)
    w.removing(conn, A, WatcherType.DATA)
    _apply(w, table, 2, (CHANGED, A))  # not "lost"
    w.reply(conn, 2, "getData")
    w.removed(conn, A, WatcherType.DATA, 0, False)
    assert not w.pending[0]


def test_a_remove_that_keeps_the_watch_is_caught() -> None:
    """remove_watches_kept: the member answers Ok and keeps the watch; its event after the
    reply is refused; an answer that contradicts what the client holds is refused."""
    w, table = ClientWatches(), WatchManager()
    conn = w.connect(0, 1, 1, 0)
    table.add_data(A, conn)
    w.set(conn, A, DATA, 1)
    w.removing(conn, A, WatcherType.DATA)
    w.removed(conn, A, WatcherType.DATA, 0, False)  # (the table still holds it)
    with pytest.raises(InvariantViolation, match="which it does not watch"):
        _apply(w, table, 2, (CHANGED, A))
    w2 = ClientWatches()
    c2 = w2.connect(0, 1, 1, 0)
    with pytest.raises(InvariantViolation, match=r"removeWatches\(/s/a, DATA\) on node 1 "
                                                 r"was answered Ok, but the client held no"):
        w2.removed(c2, A, WatcherType.DATA, 0, False)
    w2.set(c2, A, EXIST, 0)
    with pytest.raises(InvariantViolation, match="answered NoWatcher, but the client held "
                                                 "exist"):
        w2.removed(c2, A, WatcherType.DATA, int(Err.NO_WATCHER), False)
