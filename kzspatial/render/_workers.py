"""Work done in forked child processes while this process goes on (POSIX ``fork``).

:func:`worker_count` reads how many processes may work (``KZSPATIAL_WORKERS``, default
2: this machine's cores are the limit that counts).

:class:`Forked` starts ``func(*args)`` in a child at once; the child inherits this
process's memory at that moment (nothing is pickled on the way in) and sends back, in
order, each value the function yields (or the one it returns), pickled through a pipe.
The pipeline uses it to compute, draw and write on the second core while it computes
and writes the rest (see :mod:`kzspatial.study.pipeline`); a child may fork children of
its own.
With ``fork=False`` (no ``fork`` on Windows and macOS's default, or
``KZSPATIAL_WORKERS=1``) the function runs in this process when its first value is
asked for: the same values, later.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import inspect
import multiprocessing as mp
import os
import pickle
import queue
import threading
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.reduction import ForkingPickler
from typing import Any

from kzspatial._errors import KzSpatialError, ValidationError

__all__ = ["ChildError", "Forked", "frozen_heap", "worker_count"]


class ChildError(KzSpatialError):
    """A child process failed with an error that cannot be sent back as it is."""


def worker_count() -> int:
    """Return how many processes may work at once: 1 without ``fork``.

    ``KZSPATIAL_WORKERS`` (default 2) caps it, and so does the number of cores.

    Raises
    ------
    ValidationError
        ``KZSPATIAL_WORKERS`` is not a positive whole number.
    """
    asked = os.environ.get("KZSPATIAL_WORKERS", "2")
    if not asked.isdigit() or int(asked) < 1:
        raise ValidationError(
            f"KZSPATIAL_WORKERS={asked!r}: give a positive whole number of processes "
            "(1 does all the work in one process)"
        )
    if "fork" not in mp.get_all_start_methods():
        return 1
    return min(int(asked), os.cpu_count() or 1)


#: How many :func:`frozen_heap` blocks of this process (or of the parent it was forked
#: from) are open: inside one, the heap is kzspatial's to freeze.
_OPEN_BLOCKS = 0


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Leave the objects alive now out of the garbage collector's passes in the block.

    Children forked in the block inherit them frozen (:func:`gc.freeze`, as the
    :mod:`gc` documentation advises before a fork): their full collections skip the
    parent's heap instead of traversing it, and writing its pages (about half a second
    per worker of a run). This process's collections skip it too. Cyclic garbage among
    the frozen objects is collected after the block.

    Nested in another block, or in a worker process forked in one, it freezes what was
    made since, for the children forked next: the outermost block unfreezes it all (a
    worker's objects stay frozen until it ends). Outside any block, a caller's own
    frozen objects (``gc.get_freeze_count()`` not 0) are left as they are: nothing is
    frozen or unfrozen.
    """
    global _OPEN_BLOCKS
    if _OPEN_BLOCKS:
        gc.freeze()
        yield
        return
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    _OPEN_BLOCKS += 1
    try:
        yield
    finally:
        _OPEN_BLOCKS -= 1
        gc.unfreeze()


def _values(func: Callable, args: tuple) -> Iterator[Any]:
    """Yield what ``func(*args)`` yields, or the one value it returns."""
    if inspect.isgeneratorfunction(func):
        yield from func(*args)
    else:
        yield func(*args)


def _sendable(exc: BaseException, trace: str) -> BaseException:
    """``exc`` if it survives pickling, else a :class:`ChildError` that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # any failure to round-trip: send a stand-in
        return ChildError(f"{type(exc).__name__}: {exc}\n{trace}")
    return exc


def _child(
    conn, parent_reader, func: Callable, args: tuple, inbox=None, parent_end=None
) -> None:
    """Body of the child: send ``(True, value)`` per value, or ``(False, error, trace)``.

    Each message is pickled here and written to the pipe by a thread of its own: a
    value larger than the pipe's buffer waits there for the parent to read it while the
    child goes on to compute the next one. With an ``inbox`` (the reading end of the
    parent's messages), ``func`` is called with its ``recv`` first.
    """
    # the parent's reading end, inherited: closed, so that a message to a parent that
    # has gone fails (and the child ends) instead of waiting for a reader forever
    parent_reader.close()
    if inbox is not None:
        parent_end.close()  # the parent's writing end: EOF here if the parent goes
        args = (inbox.recv, *args)
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    writer = threading.Thread(target=_write_all, args=(conn, outbox), daemon=True)
    writer.start()
    try:
        try:
            for value in _values(func, args):
                outbox.put(ForkingPickler.dumps((True, value)))
        except BaseException as exc:  # every failure goes to the parent
            trace = traceback.format_exc()
            error = (False, _sendable(exc, trace), trace)
            outbox.put(ForkingPickler.dumps(error))
    finally:
        outbox.put(None)
        writer.join()
        conn.close()


def _write_all(conn, outbox: queue.SimpleQueue) -> None:
    """Write the pickled messages of ``outbox`` to ``conn`` until None; stop if it breaks."""
    while (message := outbox.get()) is not None:
        try:
            conn.send_bytes(message)
        except OSError:  # the parent has gone: nobody is left to read
            return


class Forked:
    """``func(*args)`` running in a forked child; :meth:`get` returns its values in order.

    Parameters
    ----------
    func : callable
        A function, or a generator function whose values are sent one by one as they
        are produced (the parent can use the first while the child computes the next).
    *args
        Its arguments (inherited by the child, not pickled).
    fork : bool
        Fork a child; False (or no ``fork`` on this platform) runs ``func`` in this
        process at the first :meth:`get`.
    inbox : bool
        Call ``func(receive, *args)``: ``receive()`` returns the next value this
        process gave to :meth:`send` (waiting for it), so a child started early can
        take inputs computed later.

    Notes
    -----
    Use it as a context manager: leaving the block ends a child that is still running
    (an error in the parent stops the work it started). An error in the child is raised
    by :meth:`get` with the child's traceback attached as a note.
    """

    def __init__(
        self, func: Callable, *args: Any, fork: bool = True, inbox: bool = False
    ) -> None:
        self._process = self._outbox = None
        if fork and "fork" in mp.get_all_start_methods():
            context = mp.get_context("fork")
            self._conn, child_conn = context.Pipe(duplex=False)
            child_inbox = None
            if inbox:
                child_inbox, self._outbox = context.Pipe(duplex=False)
            self._process = context.Process(
                target=_child,
                args=(child_conn, self._conn, func, args, child_inbox, self._outbox),
                daemon=False,
            )
            self._process.start()
            child_conn.close()
            if inbox:
                child_inbox.close()
        else:
            self._sent: collections.deque = collections.deque()
            self._local = _values(func, (self._sent.popleft, *args) if inbox else args)

    def send(self, value: Any) -> None:
        """Give ``value`` to the child's ``receive()`` (see ``inbox``).

        Values are pickled through a pipe: one larger than its buffer (64 KiB) waits
        until the child reads it.
        """
        if self._process is None:
            self._sent.append(value)
        else:
            self._outbox.send(value)

    def get(self) -> Any:
        """Return the next value of the child (waiting for it), or raise its error.

        Raises
        ------
        ChildError
            The child ended without sending a value (killed, out of memory), or failed
            with an error that could not be sent back as it was.
        """
        if self._process is None:
            return next(self._local)
        try:
            message = self._conn.recv()
        except EOFError:
            self._process.join()
            raise ChildError(
                f"a kzspatial worker process ended with exit code "
                f"{self._process.exitcode} before sending its result (killed or out "
                "of memory?); run again with KZSPATIAL_WORKERS=1 to do the work in "
                "one process"
            ) from None
        if message[0]:
            return message[1]
        _, exc, trace = message
        self._process.join()
        exc.add_note(f"in a kzspatial worker process:\n{trace}")
        raise exc

    def close(self) -> None:
        """End the child if it still runs, and reap it."""
        if self._process is None:
            return
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._conn.close()
        if self._outbox is not None:
            self._outbox.close()

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
