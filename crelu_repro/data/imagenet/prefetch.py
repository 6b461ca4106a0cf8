"""Make batch k+1 in a background thread while the caller trains on batch k.

The ImageNet loader reads a batch's bytes in worker processes, then decodes (nvJPEG), resizes, crops and
normalizes it on the device: host work (and torchvision's own stream synchronisation in the decode) that
would otherwise hold up the training loop at every step. Here it runs in one thread, `ahead` batches early.

On CUDA the thread works on its own side stream, which first waits for the work the caller queued before
(on the caller's current stream: the loader's constants, the last step). Each batch's tensors are handed
over with an event the caller's stream waits on, and `record_stream` on the caller's stream, so that the
caching allocator does not give their memory back to the side stream while the caller still reads them.
An error in the thread is raised in the caller, after the batches made before it; closing the iterator
(a pause, a stop, the end) stops the thread after the batch it is making.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch

Item = TypeVar("Item")
Batch = tuple[torch.Tensor, ...]
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


@contextmanager
def _side_stream(device: torch.device, caller):
    """The thread's stream on CUDA (None elsewhere), current for the thread's work, after the caller's."""
    if caller is None:
        yield None
        return
    side = torch.cuda.Stream(device)
    side.wait_stream(caller)  # what the caller queued before (constants, the last step) comes first
    with torch.cuda.device(device), torch.cuda.stream(side):
        yield side


def prefetch(
    items: Iterable[Item], make: Callable[[Item], Batch | None], device: torch.device, ahead: int = 1
) -> Iterator[Batch]:
    """make(item) for each item (None: nothing to yield for it), made in a background thread."""
    caller = torch.cuda.current_stream(device) if device.type == "cuda" else None  # this thread's stream
    ready: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(entry) -> bool:  # False once the caller has stopped listening
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with _side_stream(device, caller) as side:
                for item in items:
                    if stop.is_set():
                        return
                    batch = make(item)
                    if batch is None:
                        continue
                    event = None if side is None else torch.cuda.Event()
                    if event is not None:
                        event.record(side)
                    if not put((batch, event)):
                        return
            put(_END)
        except BaseException as err:  # noqa: BLE001 - every error belongs to the caller
            put(_Failed(err))

    thread = threading.Thread(target=work, name="crelu-prefetch", daemon=True)
    thread.start()
    try:
        while (entry := ready.get()) is not _END:
            if isinstance(entry, _Failed):
                raise entry.error
            batch, event = entry
            if event is not None:
                caller.wait_event(event)  # the device waits, not the host
                for t in batch:
                    t.record_stream(caller)
            yield batch
    finally:
        stop.set()
        thread.join()
