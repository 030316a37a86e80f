"""The fake adapter ships beside the seam (adapters/fake.py); tests use it by its old
name too."""

from __future__ import annotations

from adapters.fake import Failure, FakeAdapter

RecordingAdapter = FakeAdapter

__all__ = ["Failure", "FakeAdapter", "RecordingAdapter"]
