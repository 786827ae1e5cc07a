"""ipc/PROTOCOL.md says what the compiled header says, and descriptors and
channels decode as documented."""
import re
import threading
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from pyshim import _core

PROTOCOL = Path(__file__).resolve().parent.parent / "ipc" / "PROTOCOL.md"


def documented_layout():
    """{struct: {"sizeof": n, "fields": {field: offset}}} from PROTOCOL.md."""
    layout, current = {}, None
    for line in PROTOCOL.read_text().splitlines():
        head = re.match(r"^### `struct (\w+)` \((\d+) bytes\)$", line)
        if head:
            current = {"sizeof": int(head.group(2)), "fields": {}}
            layout[head.group(1)] = current
            continue
        row = re.match(r"^\| (\d+) \| (\w+) \|", line)
        if row and current is not None:
            current["fields"][row.group(2)] = int(row.group(1))
        elif line.startswith("## "):
            current = None
    return layout


def documented_constants():
    constants = {}
    for value, name in re.findall(r"^\| (\d+) \| `(PYSHIM_\w+)` \|", PROTOCOL.read_text(), re.M):
        constants[name] = int(value)
    return constants


def test_protocol_md_matches_compiled_layout():
    assert documented_layout() == _core.layout()


def test_protocol_md_tags_match_header():
    documented = documented_constants()
    assert documented, "PROTOCOL.md lists tags"
    compiled = _core.constants()
    assert {k: compiled[k] for k in documented} == documented


def test_channel_fits_the_per_thread_budget():
    assert _core.CHANNEL_SIZE <= _core.BLOCK_SIZE <= 4096


@given(segment=st.from_regex(r"/pyshim-[a-z0-9]{1,30}-[0-9]{1,5}", fullmatch=True),
       offset=st.integers(0, 2**64 - 1), size=st.integers(0, 2**64 - 1))
def test_descriptor_roundtrip(segment, offset, size):
    packed = _core.pack_desc((segment, offset, size))
    assert len(packed) == _core.layout()["pyshim_block_desc"]["sizeof"]
    assert _core.unpack_desc(packed) == (segment, offset, size)


@given(st.binary(min_size=64, max_size=64))
def test_garbage_descriptor_never_crashes(data):
    try:
        segment, offset, size = _core.unpack_desc(data)
    except ValueError:
        return
    assert segment.startswith("/")


def test_descriptor_of_wrong_size():
    with pytest.raises(ValueError, match="a descriptor is 64 bytes"):
        _core.unpack_desc(b"short")


def test_channel_index_must_fit_the_ready_set():
    buf = bytearray(_core.BLOCK_SIZE)
    with pytest.raises(ValueError, match="at most 262144 channels"):
        _core.init_channel(buf, 0, ("/pyshim-x-0", 0, _core.CONTROL_SIZE), _core.READY_CAPACITY)


def control_block():
    return bytearray(_core.CONTROL_SIZE)


@given(st.lists(st.integers(0, _core.READY_CAPACITY - 1), max_size=300),
       st.integers(1, _core.READY_CAPACITY))
def test_ready_set_takes_what_was_marked(marks, limit):
    ctl = control_block()
    _core.ready_mark(ctl, marks)
    # Marks at or above the limit (no channel is served there: garbage) are dropped.
    assert _core.ready_take(ctl, limit) == sorted(i for i in set(marks) if i < limit)
    assert _core.ready_take(ctl) == []
    assert _core.ready_trim(ctl) is False
    assert _core.ready_summary(ctl) == (0, {})  # trimmed: idle channels cost nothing


def test_ready_set_summary_bits_stay_until_trimmed():
    ctl = control_block()
    _core.ready_mark(ctl, [5, 70000])
    assert _core.ready_take(ctl) == [5, 70000]
    top, mids = _core.ready_summary(ctl)
    assert top and mids  # sticky: the next mark of a busy channel is one OR
    _core.ready_mark(ctl, [5])
    assert _core.ready_trim(ctl) is True  # a marked word keeps its bits
    assert _core.ready_take(ctl) == [5]
    assert _core.ready_trim(ctl) is False and _core.ready_summary(ctl) == (0, {})


def test_ready_set_loses_nothing_to_concurrent_markers():
    # Two threads mark disjoint indices (the GIL is released) while this one
    # takes: every index is taken, none twice.
    ctl = control_block()
    n = 20000
    seen: list[int] = []
    marks = [list(range(0, n, 2)), list(range(1, n, 2))]
    threads = [threading.Thread(target=_core.ready_mark, args=(ctl, m)) for m in marks]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        seen += _core.ready_take(ctl)
        _core.ready_trim(ctl)
    for t in threads:
        t.join()
    seen += _core.ready_take(ctl)
    assert sorted(seen) == list(range(n))


def test_overlong_segment_name_is_refused():
    with pytest.raises(ValueError, match="segment name too long"):
        _core.pack_desc(("/" + "x" * 60, 0, 512))


@given(st.binary(min_size=_core.CHANNEL_SIZE, max_size=_core.BLOCK_SIZE))
def test_decode_channel_accepts_any_bytes(data):
    decoded = _core.decode_channel(data)
    assert (decoded["state"] in ("idle", "event", "reply", "held", "completing", "cancelled")
            or decoded["state"].startswith("invalid"))


def test_decode_fresh_channel():
    buf = bytearray(_core.BLOCK_SIZE)
    _core.init_channel(buf, 0, ("/pyshim-x-0", 0, _core.CONTROL_SIZE), 70)
    decoded = _core.decode_channel(bytes(buf))
    assert decoded["magic_ok"] and decoded["state"] == "idle" and decoded["index"] == 70
    assert decoded["version"] == _core.PROTOCOL_VERSION
