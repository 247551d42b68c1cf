"""The lifecycle every wslearn server shares: ``start``, ``stop`` and ``async with``."""

from __future__ import annotations

import abc
from typing import Self

__all__ = ["Service"]


class Service(abc.ABC):
    """Something that listens on a port until stopped.

    ``async with service:`` starts it (unless it is running already) and stops it on the
    way out, whatever happened inside. :mod:`wslearn.kernel` registers any object with
    this shape.
    """

    @property
    @abc.abstractmethod
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""

    @abc.abstractmethod
    async def start(self) -> Self:
        """Start listening; returns the service so ``await X().start()`` reads well."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop listening and close every connection; stopping twice does nothing."""

    async def __aenter__(self) -> Self:
        if not self.running:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
