"""One background worker per view where the latest request wins.

A slider dragged across ten values asks for ten recomputations; only the last one matters.
:class:`LatestWins` runs requests one at a time on a single worker thread, skips a request that
a newer one replaced before it started, and delivers a result only if no newer request came
in meanwhile, so a view never shows a stale answer. With ``background=False`` each request
runs at once in the caller's thread (tests, scripts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["LatestWins"]


class LatestWins:
    """Run ``compute`` on one worker thread and ``deliver`` its result if still the latest.

    Parameters
    ----------
    name : str
        Prefix of the worker thread's name (seen in debuggers and thread dumps).
    background : bool
        Run on the worker thread (default) or at once in the calling thread.
    debounce_s : float
        Wait this long before starting, so that a burst of requests computes once.
    """

    def __init__(self, name: str, *, background: bool = True, debounce_s: float = 0.0):
        self._name = name
        self.background = bool(background)
        self._debounce_s = float(debounce_s)
        self._lock = threading.RLock()
        self._generation = 0
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future | None = None

    @property
    def lock(self) -> threading.RLock:
        """Held while a result is delivered; hold it to read or change what ``deliver`` writes."""
        return self._lock

    @property
    def pending(self) -> bool:
        """Whether the latest request is still queued or running."""
        future = self._future
        return future is not None and not future.done()

    def is_latest(self, token: int) -> bool:
        """Whether the request ``token`` (from :meth:`submit`) is still the newest one."""
        return token == self._generation

    def cancel(self) -> None:
        """Make every request made so far stale (none of them will deliver)."""
        with self._lock:
            self._generation += 1

    def submit(
        self,
        compute: Callable[[], object],
        deliver: Callable[[object], None],
        fail: Callable[[BaseException], None] | None = None,
    ) -> int:
        """Queue ``compute()``; ``deliver(result)`` (or ``fail(error)``) runs if still latest.

        Returns the request's token. ``deliver`` and ``fail`` run under :attr:`lock`. Without
        ``fail`` an error is raised in the foreground and dropped (after the token check) on
        the worker thread, where the caller can read it with :meth:`wait`.
        """
        if not self.background:  # computed here, outside the lock: a newer request may come
            with self._lock:
                self._generation += 1
                token = self._generation
                self._future = future = Future()
            try:
                self._run(token, compute, deliver, fail, foreground=True)
            finally:
                future.set_result(None)
            return token
        with self._lock:
            self._generation += 1
            token = self._generation
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix=self._name)
            self._future = self._executor.submit(self._run, token, compute, deliver, fail)
            return token

    def _run(self, token, compute, deliver, fail, foreground: bool = False) -> None:
        if not foreground and self._debounce_s:
            time.sleep(self._debounce_s)
        if not self.is_latest(token):
            return  # replaced before it started: the newer request has its own turn
        try:
            result = compute()
        except Exception as error:
            with self._lock:
                if fail is not None and self.is_latest(token):
                    fail(error)
                    return
            if foreground or fail is None:
                raise
            return
        with self._lock:
            if self.is_latest(token):
                deliver(result)

    def wait(self, timeout: float | None = 60.0) -> None:
        """Block until the latest request has finished (its error, if any, is raised)."""
        future = self._future
        if future is not None:
            future.result(timeout=timeout)

    def close(self) -> None:
        """Drop queued requests and stop the worker thread."""
        self.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
