"""An iterator taken in a thread of its own, a bounded number of items ahead of its consumer.

The run lists the registry this way: the first page of models is on its way while the sink opens
(OpenMetadata's listing of the service's entities), and each next page while the models of the page
before are read. Over a network each of those waits costs round trips and the server's time; side by
side they cost the longer of the two instead of their sum.
"""
from __future__ import annotations

import queue
import threading
from typing import Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()
PUT_POLL = 0.1
"""How often a producer with a full queue looks whether its consumer has gone."""


class ReadAhead(Generic[T]):
    """The items of `items`, taken up to `depth` ahead in a daemon thread. An exception the source
    raises reaches the consumer where it happened in the sequence, after the items before it.
    `close()` lets the thread end at its next item once the consumer stops early."""

    def __init__(self, items: Iterable[T], *, depth: int, name: str = "read-ahead"):
        self._queue: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(depth)
        self._closed = threading.Event()
        self._ended = False
        threading.Thread(target=self._produce, args=(items,), name=name, daemon=True).start()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._ended:
            raise StopIteration
        item, error = self._queue.get()
        if item is _END:
            self._ended = True
            if error is not None:
                raise error
            raise StopIteration
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._closed.set()

    def _produce(self, items: Iterable[T]) -> None:
        try:
            for item in items:
                if not self._put(item, None):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which decides
            self._put(_END, exc)
            return
        self._put(_END, None)

    def _put(self, item: object, error: BaseException | None) -> bool:
        """Whether the item was queued: False once the consumer has closed this."""
        while not self._closed.is_set():
            try:
                self._queue.put((item, error), timeout=PUT_POLL)
                return True
            except queue.Full:
                continue
        return False
