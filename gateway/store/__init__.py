"""The store: every SQL statement in carecheck lives in this package."""

from gateway.store.db import Store, Tx

__all__ = ["Store", "Tx"]
