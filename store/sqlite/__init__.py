"""The store: every SQL statement in carecheck lives in this package."""

from store.sqlite.db import Store, Tx

__all__ = ["Store", "Tx"]
