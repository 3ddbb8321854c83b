"""Threads of their own for text to speech.

Synthesis holds a thread for seconds. On asyncio's default executor (a handful of threads on a small server)
a few calls rendering at once, as on a fresh install before the greeting and the fixed sentences are cached,
would leave every other thread-bound step waiting behind them: a cache read, the transcript's writes, the
REST call that hands a caller to staff. Here they queue among themselves; more threads than cores would only
slow each one down.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

T = TypeVar("T")

_SYNTHESIS = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="synthesis")


async def in_synthesis_thread(work: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_SYNTHESIS, partial(work, *args))
