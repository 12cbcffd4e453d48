"""The tracking client's outbox on its own: points leave it only once the API acknowledged them."""

from __future__ import annotations

import json

from trainboard.outbox import Outbox


def _log(outbox: Outbox, key: str, step: int, value: float) -> None:
    with outbox.lock:
        if key not in outbox.appenders:
            outbox.add_key(key)
        append_value, append_step = outbox.appenders[key]
        append_value(value)
        append_step(step)
        outbox.buffered += 1


def test_a_batch_stays_until_acknowledged_and_batches_go_oldest_first() -> None:
    outbox = Outbox()
    for step in range(3):
        _log(outbox, "loss", step, step / 2)
    _log(outbox, "acc", 0, float("nan"))
    outbox.take()
    _log(outbox, "loss", 3, 9.0)  # logged after the take: waits in the buffers
    assert (outbox.taken, outbox.buffered, outbox.pending) == (4, 1, 5)

    first = outbox.next_batch(2)
    assert json.loads(first.body) == {"series": {"loss": {"step": [0, 1], "value": [0.0, 0.5]}}}
    assert outbox.next_batch(2).body == first.body, "a batch not acknowledged is sent again, whole"
    outbox.acknowledge(first)
    second = outbox.next_batch(1_000)
    assert json.loads(second.body) == {
        "series": {"loss": {"step": [2], "value": [1.0]}, "acc": {"step": [0], "value": [None]}}  # no NaN in JSON
    }
    assert [json.loads(part) for part in second.parts] == [  # as a spool segment keeps them
        {"key": "loss", "step": 2, "value": 1.0},
        {"key": "acc", "step": 0, "value": None},
    ]
    outbox.acknowledge(second)
    assert outbox.pending == 1
    outbox.take()
    assert json.loads(outbox.next_batch(1_000).body) == {"series": {"loss": {"step": [3], "value": [9.0]}}}


def test_a_key_taken_twice_is_one_entry_of_the_body_in_the_order_logged() -> None:
    outbox = Outbox()
    _log(outbox, "loss", 0, 1.0)
    outbox.take()
    _log(outbox, "acc", 0, 0.5)
    _log(outbox, "loss", 1, float("inf"))
    outbox.take()
    batch = outbox.next_batch(1_000)
    assert batch.points == 3
    assert batch.body == b'{"series":{"loss":{"step":[0,1],"value":[1.0,null]},"acc":{"step":[0],"value":[0.5]}}}'


def test_drop_all_forgets_taken_and_buffered_points() -> None:
    outbox = Outbox()
    _log(outbox, "loss", 0, 1.0)
    outbox.take()
    _log(outbox, "loss", 1, 1.0)
    assert outbox.drop_all() == 2
    assert outbox.pending == 0 and outbox.next_batch(10).points == 0
