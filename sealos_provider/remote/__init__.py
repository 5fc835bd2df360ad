"""The SSH layer: connection inputs, sessions (run / run_script / put / read_file / push_tree), sudo, host keys,
redaction and retries. It knows nothing of Pulumi or sealos.

    from sealos_provider.remote import ConnectionSpec, open_session
"""

from .connection import ConnectionSpec
from .errors import (
    AuthError,
    CommandError,
    CommandTimeout,
    DialError,
    HostKeyError,
    InvalidConnection,
    RemoteError,
    SudoError,
    TransferError,
)
from .execution import RunResult
from .push import PushStats
from .redact import Redactor
from .session import Session, open_session

__all__ = [
    "AuthError",
    "CommandError",
    "CommandTimeout",
    "ConnectionSpec",
    "DialError",
    "HostKeyError",
    "InvalidConnection",
    "PushStats",
    "Redactor",
    "RemoteError",
    "RunResult",
    "Session",
    "SudoError",
    "TransferError",
    "open_session",
]
