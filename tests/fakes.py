"""The fake adapter ships beside the seam (adapters/fake.py); tests use it by its old
name too."""

from __future__ import annotations

from adapters.fake import FakeAdapter, Failure

RecordingAdapter = FakeAdapter

__all__ = ["FakeAdapter", "Failure", "RecordingAdapter"]
