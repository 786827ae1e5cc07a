"""ipc/PROTOCOL.md says what the compiled header says, and descriptors and
channels decode as documented."""
import re
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


def test_overlong_segment_name_is_refused():
    with pytest.raises(ValueError, match="segment name too long"):
        _core.pack_desc(("/" + "x" * 60, 0, 512))


@given(st.binary(min_size=_core.CHANNEL_SIZE, max_size=_core.BLOCK_SIZE))
def test_decode_channel_accepts_any_bytes(data):
    decoded = _core.decode_channel(data)
    assert decoded["state"] in ("idle", "event", "reply") or decoded["state"].startswith("invalid")


def test_decode_fresh_channel():
    buf = bytearray(_core.BLOCK_SIZE)
    _core.init_channel(buf, 0, ("/pyshim-x-0", 0, _core.CONTROL_SIZE))
    decoded = _core.decode_channel(bytes(buf))
    assert decoded["magic_ok"] and decoded["state"] == "idle"
    assert decoded["version"] == _core.PROTOCOL_VERSION
