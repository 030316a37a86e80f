"""Matrix adapter (matrix-nio, no end-to-end encryption yet)."""

from adapters.matrix.adapter import DEFAULT_ENCRYPTED_NOTICE, MatrixAdapter

__all__ = ["DEFAULT_ENCRYPTED_NOTICE", "MatrixAdapter"]
