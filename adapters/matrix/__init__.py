"""Matrix adapter (matrix-nio, no end-to-end encryption yet).

The adapter is imported on first use: `adapters.matrix.platform` must stay cheap to
import, and matrix-nio is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.matrix.adapter import DEFAULT_ENCRYPTED_NOTICE, MatrixAdapter

__all__ = ["DEFAULT_ENCRYPTED_NOTICE", "MatrixAdapter"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from adapters.matrix import adapter

        return getattr(adapter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
