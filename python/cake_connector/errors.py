"""The exceptions of cake_connector: one per class of failure, as the command line's exit
codes are. Every one is a CakeError; `kind` is the class's stable name (`not-cake`)."""

from __future__ import annotations


class CakeError(Exception):
    """A failure of the connector. `kind` names its class; the message says what was wrong and
    what to do, as the command line says it."""

    def __new__(cls, message: str, kind: str = "internal") -> "CakeError":
        # One argument to the base: OSError's subclasses read two as (errno, strerror).
        return super().__new__(cls, message)

    def __init__(self, message: str, kind: str = "internal") -> None:
        super().__init__(message)
        self.kind = kind


class ConfigError(CakeError, ValueError):
    """A bad option, report name, config file or output location: nothing was sent or written."""


class AuthError(CakeError):
    """Cake refused the API key."""


class UnknownHostError(CakeError):
    """The domain does not resolve."""


class ConnectError(CakeError, ConnectionError):
    """No connection could be made, or it broke before a response."""


class TlsError(CakeError):
    """The TLS handshake failed."""


class CakeTimeoutError(CakeError, TimeoutError):
    """A connect, response or idle timeout, or a body slower than the minimum rate."""


class NotCakeError(CakeError):
    """The reply is not a Cake API response, cannot be decoded, or answers another request."""


class IncompleteWindowError(CakeError):
    """A window's answer contradicted itself (a short page, a repeated row, a moving row count)
    through all its re-pulls: none of its rows were handed out or written."""


class RejectedError(CakeError):
    """Cake refused the request: a parameter, a date range."""


class ThrottledError(CakeError):
    """Cake kept throttling or failing for a passing reason until the retries ran out."""


class DriftError(CakeError):
    """The catalog and the instance's own description differ."""


class OutputError(CakeError, OSError):
    """Reading or writing local files or the output location failed."""


class StoppedError(CakeError):
    """The job was stopped from outside before it finished."""


class InternalError(CakeError):
    """Something the connector did not expect: a bug to report."""


__all__ = [
    "CakeError",
    "ConfigError",
    "AuthError",
    "UnknownHostError",
    "ConnectError",
    "TlsError",
    "CakeTimeoutError",
    "NotCakeError",
    "IncompleteWindowError",
    "RejectedError",
    "ThrottledError",
    "DriftError",
    "OutputError",
    "StoppedError",
    "InternalError",
]
