"""One way to handle a batch that fails: find the culprit, keep the rest.

The gateway stores batches of payloads, the rule worker processes batches of bus messages and
the DC-09 receiver submits coalesced blocks; all three must neither lose the good items beside a
bad one nor retry a deterministic failure forever. ``isolate`` is the rule they share:

- ``run`` the batch;
- a *transient* failure (``core.transient.is_transient``: the database or the bus away) is
  retried with back-off (0.1 s doubling to ``retry_max_s``) for as long as it lasts, or, with
  ``retry_max_s=None``, raised to the caller (the bus offers the batch again);
- any other failure splits the batch in halves, each run the same way, until the item at fault
  is alone: it goes to ``on_poison`` (keep it as a dead letter, answer its sender…), and the
  others have gone through. When retrying, a failure of ``on_poison`` itself is retried like a
  transient one (the item is run again first: the failure may have been passing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from yiyang.core.transient import is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")


async def isolate(
    batch: Sequence[T],
    run: Callable[[Sequence[T]], Awaitable[None]],
    on_poison: Callable[[T, Exception], Awaitable[None]],
    *,
    retry_max_s: float | None = None,
    what: str = "items",
) -> None:
    """Run ``batch``; narrow a non-transient failure down to the item at fault (module
    docstring). Returns when every item has gone through ``run`` or ``on_poison``."""
    delay = 0.1
    while True:
        try:
            await run(batch)
            return
        except Exception as exc:
            if not is_transient(exc):
                if len(batch) > 1:
                    half = len(batch) // 2
                    await isolate(batch[:half], run, on_poison, retry_max_s=retry_max_s, what=what)
                    await isolate(batch[half:], run, on_poison, retry_max_s=retry_max_s, what=what)
                    return
                if await _poisoned(batch[0], exc, on_poison, retry=retry_max_s is not None):
                    return
            elif retry_max_s is None:
                raise
            else:
                log.warning(
                    "%d %s not stored yet (%r); retrying in %.1f s", len(batch), what, exc, delay
                )
        await asyncio.sleep(delay)
        delay = min(delay * 2, retry_max_s or 0.0)


async def _poisoned(
    item: T, exc: Exception, on_poison: Callable[[T, Exception], Awaitable[None]], *, retry: bool
) -> bool:
    """Hand the culprit to ``on_poison``; False: that failed and the item is to be run again."""
    if not retry:
        await on_poison(item, exc)
        return True
    try:
        await on_poison(item, exc)
        return True
    except Exception:
        log.exception("could not keep the item at fault; retrying")
        return False
