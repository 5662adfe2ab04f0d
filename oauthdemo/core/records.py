"""Immutable records, cheaply: a base that refuses changes once ``__init__`` has run.

``@dataclass(frozen=True)`` costs about three times as much to define as a plain dataclass
(it generates ``__setattr__``, ``__delattr__`` and ``__hash__`` for each class), and the
demo defines dozens at start-up. A record class instead subclasses ``Record`` under a plain
``@dataclass`` and gets the same guarantee from one shared ``__setattr__``. Changes are made
as ``frozen=True`` ones are: ``dataclasses.replace(record, field=new)`` makes a new record.
"""
from __future__ import annotations

from dataclasses import FrozenInstanceError


class Record:
    """Base of an immutable dataclass: assignment and deletion raise FrozenInstanceError."""

    __slots__ = ()
    _sealed = False

    def __post_init__(self):
        object.__setattr__(self, "_sealed", True)

    def __setattr__(self, name, value):
        if self._sealed:
            raise FrozenInstanceError(f"cannot assign to field {name!r}: records are immutable")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}: records are immutable")
