"""The ImageNet loader's background thread (data/imagenet/prefetch.py): batches in order, one made ahead,
errors raised in the caller, the thread gone when the caller stops; on CUDA (forced here with stand-in
streams) a side stream that waits for the caller's, batches handed over with an event and `record_stream`, and
nvJPEG only once the decoding stream has drained."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from crelu_repro.data.imagenet import jpeg, prefetch

CPU = torch.device("cpu")


def alive() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "crelu-prefetch"]


def test_batches_come_in_order_and_none_is_skipped():
    made = lambda i: None if i % 3 == 0 else (torch.tensor([i]),)  # noqa: E731
    got = [int(b[0]) for b in prefetch.prefetch(range(10), made, CPU)]
    assert got == [1, 2, 4, 5, 7, 8] and not alive()


def test_the_next_batch_is_made_while_the_caller_holds_this_one():
    asked = {i: threading.Event() for i in range(4)}

    def make(i: int):
        asked[i].set()
        return (torch.tensor([i]),)

    for i, (x,) in enumerate(prefetch.prefetch(range(4), make, CPU)):
        assert int(x) == i
        if i < 3:  # made before the caller asks for it (a bound only in case it never comes)
            assert asked[i + 1].wait(timeout=60)


def test_an_error_reaches_the_caller_after_the_batches_before_it():
    def make(i: int):
        if i == 3:
            raise ValueError("bad batch 3")
        return (torch.tensor([i]),)

    got = []
    with pytest.raises(ValueError, match="bad batch 3"):
        for (x,) in prefetch.prefetch(range(10), make, CPU):
            got.append(int(x))
    assert got == [0, 1, 2] and not alive()


def test_closing_stops_the_thread_after_its_current_batch():
    made = []
    batches = prefetch.prefetch(range(1000), lambda i: made.append(i) or (torch.tensor([i]),), CPU, ahead=1)
    assert [int(next(batches)[0]) for _ in range(3)] == [0, 1, 2]
    batches.close()
    assert not alive() and len(made) <= 3 + 2  # the queue's one, and the one in the making


class Log(list):
    """What the stand-in CUDA objects did, in order, with the thread each call came from."""

    def add(self, *what) -> None:
        self.append((*what, threading.current_thread().name))


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda's streams, events, device guard and Tensor.record_stream replaced by recorders."""
    log, current = Log(), threading.local()

    class Stream:
        def __init__(self, name: str) -> None:
            self.name = name

        def wait_stream(self, other) -> None:
            log.add("wait_stream", self.name, other.name)

        def wait_event(self, event) -> None:
            log.add("wait_event", self.name, event.name)

        def synchronize(self) -> None:
            log.add("synchronize", self.name)

    caller, count = Stream("caller"), iter(range(100))

    class Event:
        def __init__(self) -> None:
            self.name = f"event{next(count)}"

        def record(self, stream) -> None:
            log.add("record", self.name, stream.name)

    class Use:
        def __init__(self, stream) -> None:
            self.stream = stream

        def __enter__(self):
            current.stream = self.stream

        def __exit__(self, *exc) -> None:
            current.stream = None

    monkeypatch.setattr(
        torch.cuda, "current_stream", lambda device=None: getattr(current, "stream", None) or caller
    )
    monkeypatch.setattr(torch.cuda, "Stream", lambda device=None: Stream("side"))
    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "stream", Use)
    monkeypatch.setattr(torch.cuda, "device", lambda device: Use(getattr(current, "stream", None)))
    monkeypatch.setattr(
        torch.Tensor, "record_stream", lambda t, s: log.add("record_stream", int(t[0]), s.name)
    )
    return log, current


def test_on_cuda_batches_are_handed_over_with_an_event_and_record_stream(fake_cuda):
    log, current = fake_cuda

    def make(i: int):
        log.add("make", i, torch.cuda.current_stream().name)
        return torch.tensor([i]), torch.tensor([10 + i])

    for x, _ in prefetch.prefetch(range(3), make, torch.device("cuda")):
        log.add("use", int(x[0]))
    assert log[0] == ("wait_stream", "side", "caller", "crelu-prefetch")  # after the caller's queued work
    for i in range(3):  # made on the side stream, recorded there; the caller waits, marks, then uses
        make, rec = (
            log.index(("make", i, "side", "crelu-prefetch")),
            log.index(("record", f"event{i}", "side", "crelu-prefetch")),
        )
        wait = log.index(("wait_event", "caller", f"event{i}", "MainThread"))
        marks = [log.index(("record_stream", v, "caller", "MainThread")) for v in (i, 10 + i)]
        use = log.index(("use", i, "MainThread"))
        assert make < rec < wait < min(marks) and max(marks) < use, log


def test_nvjpeg_waits_for_the_decoding_stream_to_drain(fake_cuda, monkeypatch):
    log, _ = fake_cuda
    monkeypatch.setattr(
        jpeg,
        "decode_jpeg",
        lambda data, **kw: log.add("decode", len(data)) or [torch.zeros(3, 2, 2)] * len(data),
    )
    flat, sizes = torch.arange(10, dtype=torch.uint8), np.array([4, -1, 6])
    images = jpeg.decode_batch(flat, sizes, torch.device("cuda"), {}, 10**6)
    assert [e[0] for e in log] == ["synchronize", "decode"] and images[1] is None
