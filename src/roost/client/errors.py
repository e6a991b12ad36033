"""Typed client exceptions: one class per ZooKeeper error code, looked up by code.

Every class derives from `roost.wire.errors.KeeperError` and carries ``code`` (the
server's numeric code) and ``path`` (the path the failed request named, chroot
removed, or ``""``). ``str(err)`` reads like zkCli: ``Node does not exist: /a``.

    try:
        await client.get("/a")
    except NoNodeError as e:
        ...

`error_for(code, path)` builds the right instance from a reply's error code.
"""

from __future__ import annotations

from typing import Any

from roost.wire.errors import Err, KeeperError

__all__ = [
    "ERRORS",
    "APIError",
    "AuthFailedError",
    "BadArgumentsError",
    "BadVersionError",
    "ClientClosedError",
    "CodedError",
    "ConnectionLossError",
    "DataInconsistencyError",
    "EphemeralOnLocalSessionError",
    "InvalidACLError",
    "InvalidCallbackError",
    "KeeperError",
    "MarshallingError",
    "NewConfigNoQuorumError",
    "NoAuthError",
    "NoChildrenForEphemeralsError",
    "NoNodeError",
    "NoWatcherError",
    "NodeExistsError",
    "NotEmptyError",
    "NotReadOnlyError",
    "OperationTimeoutError",
    "QuotaExceededError",
    "ReconfigDisabledError",
    "ReconfigInProgressError",
    "RequestTimeoutError",
    "RolledBackError",
    "RuntimeInconsistencyError",
    "SessionClosedRequireSaslAuthError",
    "SessionExpiredError",
    "SessionMovedError",
    "SystemZooKeeperError",
    "ThrottledError",
    "UnimplementedError",
    "UnknownCodeError",
    "UnknownSessionError",
    "error_for",
]


class CodedError(KeeperError):
    """Base of the typed errors: a `KeeperError` whose class fixes the code.

    ``str()`` is zkCli-like. ``results`` is set on the error a failed transaction
    raises (every op's outcome).
    """

    code_value: int = Err.SYSTEM_ERROR
    text: str = "Error"
    results: list[Any] | None = None

    def __init__(self, path: str = "", message: str = "") -> None:
        self.path = path
        self.detail = message
        super().__init__(self.code_value, message or path)

    def __str__(self) -> str:
        extra = self.detail or self.path
        return f"{self.text}: {extra}" if extra else self.text


#: error code -> exception class (every `Err` code has one).
ERRORS: dict[int, type[CodedError]] = {}


class RolledBackError(CodedError):
    """A multi op that was valid but undone because another op failed (code 0)."""

    code_value = Err.OK
    text = "Rolled back"


class SystemZooKeeperError(CodedError):
    code_value = Err.SYSTEM_ERROR
    text = "System error"


class RuntimeInconsistencyError(CodedError):
    code_value = Err.RUNTIME_INCONSISTENCY
    text = "Runtime inconsistency"


class DataInconsistencyError(CodedError):
    code_value = Err.DATA_INCONSISTENCY
    text = "Data inconsistency"


class ConnectionLossError(CodedError):
    """The connection dropped before the reply arrived: the request may or may not have run."""

    code_value = Err.CONNECTION_LOSS
    text = "Connection loss"


class ClientClosedError(ConnectionLossError):
    """The client was closed (or never started); no request can be sent."""

    text = "Client is closed"


class MarshallingError(CodedError):
    code_value = Err.MARSHALLING_ERROR
    text = "Marshalling error"


class UnimplementedError(CodedError):
    code_value = Err.UNIMPLEMENTED
    text = "Operation is not implemented (or disabled) on the server"


class OperationTimeoutError(CodedError):
    code_value = Err.OPERATION_TIMEOUT
    text = "Operation timed out"


class BadArgumentsError(CodedError):
    code_value = Err.BAD_ARGUMENTS
    text = "Bad arguments"


class UnknownSessionError(CodedError):
    code_value = Err.UNKNOWN_SESSION
    text = "Unknown session"


class NewConfigNoQuorumError(CodedError):
    code_value = Err.NEW_CONFIG_NO_QUORUM
    text = "New config has no quorum"


class ReconfigInProgressError(CodedError):
    code_value = Err.RECONFIG_IN_PROGRESS
    text = "Reconfiguration in progress"


class APIError(CodedError):
    code_value = Err.API_ERROR
    text = "API error"


class NoNodeError(CodedError):
    code_value = Err.NO_NODE
    text = "Node does not exist"


class NoAuthError(CodedError):
    code_value = Err.NO_AUTH
    text = "Insufficient permission"


class BadVersionError(CodedError):
    code_value = Err.BAD_VERSION
    text = "Version mismatch"


class NoChildrenForEphemeralsError(CodedError):
    code_value = Err.NO_CHILDREN_FOR_EPHEMERALS
    text = "Ephemerals cannot have children"


class NodeExistsError(CodedError):
    code_value = Err.NODE_EXISTS
    text = "Node already exists"


class NotEmptyError(CodedError):
    code_value = Err.NOT_EMPTY
    text = "Node not empty"


class SessionExpiredError(CodedError):
    code_value = Err.SESSION_EXPIRED
    text = "Session expired"


class InvalidCallbackError(CodedError):
    code_value = Err.INVALID_CALLBACK
    text = "Invalid callback"


class InvalidACLError(CodedError):
    code_value = Err.INVALID_ACL
    text = "Invalid ACL"


class AuthFailedError(CodedError):
    code_value = Err.AUTH_FAILED
    text = "Authentication failed"


class SessionMovedError(CodedError):
    code_value = Err.SESSION_MOVED
    text = "Session moved to another server"


class NotReadOnlyError(CodedError):
    code_value = Err.NOT_READ_ONLY
    text = "Server is read-only"


class EphemeralOnLocalSessionError(CodedError):
    code_value = Err.EPHEMERAL_ON_LOCAL_SESSION
    text = "Ephemeral node on a local session"


class NoWatcherError(CodedError):
    code_value = Err.NO_WATCHER
    text = "No such watch"


class RequestTimeoutError(CodedError):
    code_value = Err.REQUEST_TIMEOUT
    text = "Request timed out"


class ReconfigDisabledError(CodedError):
    code_value = Err.RECONFIG_DISABLED
    text = "Reconfiguration is disabled"


class SessionClosedRequireSaslAuthError(CodedError):
    code_value = Err.SESSION_CLOSED_REQUIRE_SASL_AUTH
    text = "Session closed: SASL authentication required"


class QuotaExceededError(CodedError):
    code_value = Err.QUOTA_EXCEEDED
    text = "Quota exceeded"


class ThrottledError(CodedError):
    code_value = Err.THROTTLED
    text = "Request throttled by the server"


class UnknownCodeError(CodedError):
    """A code this client has no class for (kept, so nothing is lost)."""

    text = "Unknown error"

    def __init__(self, code: int, path: str = "") -> None:
        self.code_value = code
        super().__init__(path)

    def __str__(self) -> str:
        return f"{self.text} {self.code}" + (f": {self.path}" if self.path else "")


_NOT_CODES = ("CodedError", "ClientClosedError", "UnknownCodeError")
for _cls in list(globals().values()):
    if isinstance(_cls, type) and issubclass(_cls, CodedError) and _cls.__name__ not in _NOT_CODES:
        ERRORS[int(_cls.code_value)] = _cls
del _cls


def error_for(code: int, path: str = "") -> CodedError:
    """The exception instance for a server error code (`UnknownCodeError` if unknown)."""
    cls = ERRORS.get(code)
    if cls is None:
        return UnknownCodeError(code, path)
    return cls(path)
