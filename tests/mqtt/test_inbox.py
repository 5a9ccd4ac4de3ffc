"""The received-message queue: bounded in bytes, huge payloads cut to their head, overflow kept as stubs."""

from __future__ import annotations

from agent.mqtt.inbox import OVERHEAD_BYTES, Inbox, Received


def test_messages_come_out_in_order_and_the_queue_empties() -> None:
    inbox = Inbox()
    inbox.put("a/command", b"one", False)
    inbox.put("a/command", b"two", True)
    assert inbox.take() == [Received("a/command", b"one", False, 3), Received("a/command", b"two", True, 3)]
    assert inbox.take() == []


def test_a_huge_payload_is_kept_as_its_head_with_its_size() -> None:
    inbox = Inbox(head_bytes=16)
    inbox.put("t", b'{"id": "big-1", ' + b"x" * 10_000_000, False)
    [message] = inbox.take()
    assert message.payload == b'{"id": "big-1", ' and message.wire_size == 10_000_016 and not message.overflow


def test_past_the_byte_bound_messages_become_stubs_then_are_dropped_and_counted() -> None:
    cost = 100 + 1 + OVERHEAD_BYTES
    inbox = Inbox(max_bytes=2 * cost, head_bytes=100, stub_bytes=10, stub_max_bytes=2 * (10 + 1 + OVERHEAD_BYTES))
    for i in range(6):
        inbox.put("t", bytes([48 + i]) * 100, False)
    got = inbox.take()
    assert [(m.payload[:1], m.overflow, len(m.payload)) for m in got] == [
        (b"0", False, 100),
        (b"1", False, 100),
        (b"2", True, 10),
        (b"3", True, 10),
    ]
    assert (inbox.overflowed, inbox.dropped) == (2, 2)
    inbox.put("t", b"again", False)
    assert inbox.take() == [Received("t", b"again", False, 5)], "taking frees the budget"
