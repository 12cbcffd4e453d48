"""A worker's GPUs (worker/gpus.py): `--gpus` is checked; runs hold GPUs of their own, wait for enough free ones,
and never hold one another run holds."""

from __future__ import annotations

import random
import threading
import time

import pytest

from worker.gpus import GpuError, GpuPool, parse_gpus, scheduled


def test_the_gpus_flag_is_checked_and_named_in_the_error() -> None:
    assert parse_gpus("0,1,3", available=4) == ["0", "1", "3"]
    assert parse_gpus(" 2 , 0", available=None) == ["2", "0"]
    for flag, words in [
        ("0,0", "listed twice"),
        ("0,x", "'x' is not a GPU index"),
        ("", "'' is not"),
        ("4", "GPU 4 does not exist here (torch sees 4"),
    ]:
        with pytest.raises(GpuError, match="--gpus") as error:
            parse_gpus(flag, available=4)
        assert words in str(error.value)


def test_a_cuda_worker_schedules_every_gpu_unless_told_and_a_cpu_worker_none() -> None:
    assert scheduled(None, device="cuda", seen=3) == ["0", "1", "2"]
    assert scheduled(None, device="cpu", seen=3) == []
    assert scheduled("1", device="cuda", seen=3) == ["1"]
    assert scheduled("all", device="cuda", seen=2) == ["0", "1"]
    with pytest.raises(GpuError, match="a cpu worker has no GPUs"):
        scheduled("0", device="cpu", seen=3)


def test_a_process_sees_the_drivers_ids_of_the_gpus_its_run_holds() -> None:
    assert GpuPool(["0", "1"]).visible(["1"]) == "1"
    assert GpuPool(["0", "1", "2"], visible="4,5,6").visible(["0", "2"]) == "4,6"
    assert GpuPool(["0"]).visible([]) == ""


def test_runs_get_gpus_of_their_own_and_a_two_gpu_run_waits_for_two() -> None:
    pool = GpuPool(["0", "1"])
    with pool.hold(1, run_id=1) as first, pool.hold(1, run_id=2) as second:
        assert sorted(first + second) == ["0", "1"]
        waiting, got = threading.Event(), []

        def pair() -> None:
            with pool.hold(2, run_id=3, waiting=waiting) as held:
                got.append(held)

        thread = threading.Thread(target=pair)
        thread.start()
        assert waiting.wait(5), "the two-GPU run waits while both are held"
        time.sleep(0.1)
        assert got == []
    thread.join(5)
    assert got == [["0", "1"]]
    assert pool.free == ["0", "1"]


def test_a_run_waiting_for_several_gpus_is_not_overtaken_by_later_one_gpu_runs() -> None:
    """Without an order, each GPU freed goes to the next one-GPU run and a four-GPU run waits for ever."""
    pool = GpuPool(["0", "1", "2", "3"])
    order: list[str] = []
    stop = threading.Event()

    def small(name: str) -> None:  # one-GPU runs, one after another, as long as the queue has them
        while not stop.is_set():
            with pool.hold(1, run_id=1):
                order.append(name)
                time.sleep(0.02)

    def big() -> None:
        with pool.hold(4, run_id=2):
            order.append("big")

    smalls = [threading.Thread(target=small, args=(f"small{i}",)) for i in range(3)]
    for thread in smalls:
        thread.start()
    time.sleep(0.1)  # the three hold three GPUs, turn and turn about
    waiting_big = threading.Thread(target=big)
    waiting_big.start()
    waiting_big.join(5)
    starved = waiting_big.is_alive()
    stop.set()
    for thread in smalls + [waiting_big]:
        thread.join(5)
    assert not starved, "the four-GPU run got its GPUs while one-GPU runs kept coming"
    assert order.count("big") == 1 and order.index("big") < len(order) - 1, "the small runs went on after it"
    with pool.hold(0, run_id=3) as none:  # a run asking for no GPU never waits
        assert none == []
    assert pool.free == ["0", "1", "2", "3"]


def test_a_run_asking_for_more_gpus_than_the_worker_has_is_refused_not_left_waiting() -> None:
    with pytest.raises(GpuError, match="asks for 3 GPU"), GpuPool(["0", "1"]).hold(3, run_id=7):
        pass


def test_under_contention_no_gpu_is_ever_held_by_two_runs() -> None:
    pool = GpuPool(["0", "1", "2", "3"])
    holders: dict[str, int] = {}
    clashes: list[str] = []
    lock = threading.Lock()

    def run(run_id: int, count: int) -> None:
        with pool.hold(count, run_id=run_id) as held:
            with lock:
                clashes.extend(gpu for gpu in held if gpu in holders)
                holders.update(dict.fromkeys(held, run_id))
            time.sleep(random.uniform(0, 0.01))
            with lock:
                for gpu in held:
                    del holders[gpu]

    rng = random.Random(0)
    threads = [threading.Thread(target=run, args=(i, rng.choice([0, 1, 1, 2, 4]))) for i in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert clashes == [] and pool.free == ["0", "1", "2", "3"]
