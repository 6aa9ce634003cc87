"""The process-wide bound on stores filled at once (`reflector.ListGate`)."""

from __future__ import annotations

import threading

from k8s_multicluster_mcp.sources.watch.reflector import ListGate, Slot


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_at_most_slots_fills_count_and_a_release_lets_the_next_in() -> None:
    gate = ListGate(2, clock=Clock())
    stop = threading.Event()
    first, second = gate.acquire(stop, 5), gate.acquire(stop, 5)
    assert first is not None and second is not None
    assert gate.counted == 2
    got: list[Slot | None] = []
    waiter = threading.Thread(target=lambda: got.append(gate.acquire(stop, 5)))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive(), "a third fill must wait while two run"
    first.release()
    waiter.join(5)
    assert not waiter.is_alive() and got and got[0] is not None
    assert gate.counted == 2


def test_a_fill_whose_server_never_answered_stops_counting_after_its_lease() -> None:
    clock = Clock()
    gate = ListGate(1, clock=clock)
    stop = threading.Event()
    hung = gate.acquire(stop, 5)
    assert hung is not None and gate.counted == 1
    clock.now += 5.1
    assert gate.counted == 0, "a hung server must not hold the queue"
    assert gate.acquire(stop, 5) is not None


def test_a_fill_whose_server_answered_counts_until_it_ends() -> None:
    clock = Clock()
    gate = ListGate(1, clock=clock)
    slot = gate.acquire(threading.Event(), 5)
    assert slot is not None
    slot.progress()
    clock.now += 600
    assert gate.counted == 1
    slot.release()
    assert gate.counted == 0


def test_a_stopped_reflector_stops_waiting() -> None:
    gate = ListGate(1, clock=Clock())
    assert gate.acquire(threading.Event(), 5) is not None
    stop = threading.Event()
    got: list[Slot | None] = [Slot(gate, -1)]
    waiter = threading.Thread(target=lambda: got.__setitem__(0, gate.acquire(stop, 5)))
    waiter.start()
    stop.set()
    gate.wake()
    waiter.join(5)
    assert not waiter.is_alive() and got == [None]
