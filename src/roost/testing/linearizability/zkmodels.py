"""ZooKeeper-shaped models: a versioned znode, a parent's set of children, a fenced lock.

Error outputs are lower-case ZooKeeper error names: ``"nonode"``, ``"nodeexists"``,
``"badversion"``. Each model splits the history by its first argument (a path or a lock
name); any output may also be :data:`~roost.testing.history.UNKNOWN`.

**ZnodeModel** - one znode; state None (absent) or ``(data, version)``:

* ``create (path, data)`` -> ``"ok"`` | ``"nodeexists"`` (a new znode has version 0)
* ``get (path,)`` -> ``(data, version)`` | ``"nonode"``
* ``exists (path,)`` -> version | None
* ``set (path, data, expected_version)`` -> new version | ``"nonode"`` | ``"badversion"``
  (expected_version -1 matches any version)
* ``delete (path, expected_version)`` -> ``"ok"`` | ``"nonode"`` | ``"badversion"``

**ChildrenModel** - the children of one parent; state ``(children, owners, counter)``
where ``children`` is a frozenset of names, ``owners`` a frozenset of ``(name, session)``
for ephemeral children and ``counter`` the number of successful child creations (ZooKeeper
suffixes sequential names with it as ``%010d``):

* ``create (parent, name, sequential, session)`` -> the created name | ``"nodeexists"``;
  ``session`` is None for a persistent child or the owner of an ephemeral one
* ``delete (parent, name)`` -> ``"ok"`` | ``"nonode"``
* ``list (parent,)`` -> the children's names (any iterable; compared as a set)
* ``expire (parent, session)`` -> anything: the session ended and its ephemerals are gone

**LockModel** - a lock or lease handing out fencing tokens; state ``(holder, last_token)``:

* ``acquire (lock, owner)`` -> the fencing token (an int) | ``"busy"`` (try-lock refused).
  A granted token must be larger than every token granted before.
* ``release (lock, owner)`` -> ``"ok"`` | ``"notheld"``
* ``expire (lock, owner)`` -> anything: the owner's lease ended (session expiry)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roost.testing.history import UNKNOWN, Operation
from roost.testing.linearizability.model import BaseModel, Input, fmt, partition_by


def _first_arg(op: Operation) -> Any:
    return op.args[0]


def _is(output: Any, expected: Any) -> bool:
    return output is UNKNOWN or output == expected


class ZnodeModel(BaseModel):
    """A single znode with data and a version (see the module docstring)."""

    name = "znode"

    def __init__(self, initial: tuple[Any, int] | None = None) -> None:
        self.initial = initial

    def init(self) -> Any:
        return self.initial

    def step(self, state: Any, input: Input, output: Any) -> tuple[bool, Any]:
        f, args = input
        if f == "get":
            return _is(output, "nonode" if state is None else state), state
        if f == "exists":
            return _is(output, None if state is None else state[1]), state
        if f == "create":
            if state is None:
                return _is(output, "ok"), (args[1], 0)
            return _is(output, "nodeexists"), state
        if f == "set":
            return self._set(state, args, output)
        if f == "delete":
            return self._delete(state, args, output)
        raise ValueError(f"znode model: unknown operation {f!r}")

    @staticmethod
    def _set(state: Any, args: Any, output: Any) -> tuple[bool, Any]:
        _path, data, expected = args
        if state is None:
            return _is(output, "nonode"), state
        if expected != -1 and expected != state[1]:
            return _is(output, "badversion"), state
        version = state[1] + 1
        return _is(output, version), (data, version)

    @staticmethod
    def _delete(state: Any, args: Any, output: Any) -> tuple[bool, Any]:
        expected = args[1]
        if state is None:
            return _is(output, "nonode"), state
        if expected != -1 and expected != state[1]:
            return _is(output, "badversion"), state
        return _is(output, "ok"), None

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        return partition_by(ops, _first_arg)

    def pure(self, input: Input, output: Any) -> bool:
        f = input[0]
        if f in ("get", "exists"):
            return True
        return output in ("nonode", "nodeexists", "badversion")

    def describe(self, input: Input, output: Any) -> str:
        f, args = input
        return f"{f}({fmt(tuple(args))}) -> {fmt(output)}"


class ChildrenModel(BaseModel):
    """The set of children of one parent znode (see the module docstring)."""

    name = "children"

    def __init__(self, initial: frozenset[str] = frozenset(), counter: int = 0) -> None:
        self.initial = initial
        self.counter = counter

    def init(self) -> Any:
        return (self.initial, frozenset(), self.counter)

    def step(self, state: Any, input: Input, output: Any) -> tuple[bool, Any]:
        f, args = input
        children, owners, counter = state
        if f == "list":
            if output is UNKNOWN:
                return True, state
            seen = output if isinstance(output, frozenset) else frozenset(output)
            return seen == children, state
        if f == "create":
            return self._create(state, args, output)
        if f == "delete":
            name = args[1]
            if name not in children:
                return _is(output, "nonode"), state
            owners = frozenset(o for o in owners if o[0] != name)
            return _is(output, "ok"), (children - {name}, owners, counter)
        if f == "expire":
            gone = frozenset(o for o in owners if o[1] == args[1])
            if not gone:
                return True, state
            names = frozenset(o[0] for o in gone)
            return True, (children - names, owners - gone, counter)
        raise ValueError(f"children model: unknown operation {f!r}")

    @staticmethod
    def _create(state: Any, args: Any, output: Any) -> tuple[bool, Any]:
        children, owners, counter = state
        _parent, name, sequential, session = args
        if sequential:
            name = f"{name}{counter:010d}"
        if name in children:
            return _is(output, "nodeexists"), state
        if session is not None:
            owners = owners | {(name, session)}
        return _is(output, name), (children | {name}, owners, counter + 1)

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        return partition_by(ops, _first_arg)

    def pure(self, input: Input, output: Any) -> bool:
        return input[0] == "list" or output in ("nonode", "nodeexists")

    def describe(self, input: Input, output: Any) -> str:
        f, args = input
        if f == "create":
            _parent, name, sequential, session = args
            kind = ("sequential " if sequential else "") + (
                f"ephemeral[{session}] " if session is not None else ""
            )
            return f"create {kind}{fmt(name)} -> {fmt(output)}"
        if f == "list" and output is not UNKNOWN:
            return f"list() -> {fmt(frozenset(output))}"
        return f"{f}({fmt(tuple(args[1:]))}) -> {fmt(output)}"


class LockModel(BaseModel):
    """A lock or lease with strictly increasing fencing tokens (see the module docstring)."""

    name = "lock"

    def __init__(self, last_token: int = -1) -> None:
        self.last_token = last_token

    def init(self) -> Any:
        return (None, self.last_token)

    def step(self, state: Any, input: Input, output: Any) -> tuple[bool, Any]:
        f, args = input
        holder, last = state
        owner = args[1]
        if f == "acquire":
            if holder is not None:
                return _is(output, "busy"), state
            if output is UNKNOWN:
                # Granted with a token we never saw: it exceeds `last`, but by how much is
                # unknown, so later tokens are only checked against `last`.
                return True, (owner, last)
            return (isinstance(output, int) and output > last), (owner, output)
        if f == "release":
            if holder == owner:
                return _is(output, "ok"), (None, last)
            return _is(output, "notheld"), state
        if f == "expire":
            return True, ((None, last) if holder == owner else state)
        raise ValueError(f"lock model: unknown operation {f!r}")

    def partition(self, ops: Sequence[Operation]) -> list[list[Operation]]:
        return partition_by(ops, _first_arg)

    def pure(self, input: Input, output: Any) -> bool:
        return output in ("busy", "notheld")

    def describe(self, input: Input, output: Any) -> str:
        f, args = input
        return f"{f}({fmt(args[1])}) -> {fmt(output)}"
