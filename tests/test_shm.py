"""The posix_ipc allocator: names, modes, blocks, cleanup and gc."""
import os
import stat
import subprocess
import sys
import time

import posix_ipc
import pytest

from pyshim import _core, shm


def shm_path(name):
    return "/dev/shm" + name


def test_segments_are_named_private_and_exclusive(no_leaks):
    with shm.Run() as run:
        block = run.alloc_channel()
        names = run.segment_names()
        assert names == [f"/pyshim-{run.run_id}-0"]  # the control block and the first slab
        assert run.run_id.startswith(no_leaks)
        for name in names:
            assert stat.S_IMODE(os.stat(shm_path(name)).st_mode) == 0o600
        with pytest.raises(posix_ipc.ExistentialError):
            posix_ipc.SharedMemory(names[0], posix_ipc.O_CREX, mode=0o600, size=4096)
        assert block.text == f"{names[0]}:{_core.FIRST_SLAB_OFFSET}:{_core.BLOCK_SIZE}"
    assert not any(os.path.exists(shm_path(n)) for n in names)


def test_first_slab_follows_the_control_block_on_its_own_pages(no_leaks):
    """Segment 0: the control block, then 64 blocks from the next page on;
    the 65th block opens segment 1, at offset 0.  Ready-set bits follow
    the blocks."""
    with shm.Run() as run:
        blocks = [run.alloc_channel() for _ in range(shm.BLOCKS_PER_SEGMENT + 1)]
        control, slab = run.segment_names()
        first = _core.FIRST_SLAB_OFFSET
        assert first % 4096 == 0 and _core.CONTROL_SIZE <= first < _core.CONTROL_SIZE + 4096
        assert os.stat(shm_path(control)).st_size == first + shm.SLAB_SIZE
        assert os.stat(shm_path(slab)).st_size == shm.SLAB_SIZE
        assert [b.desc for b in blocks] == (
            [(control, first + i * _core.BLOCK_SIZE, _core.BLOCK_SIZE)
             for i in range(shm.BLOCKS_PER_SEGMENT)] + [(slab, 0, _core.BLOCK_SIZE)])
        assert [b.index for b in blocks] == list(range(shm.BLOCKS_PER_SEGMENT + 1))
        assert run.blocks_in_use == len(blocks)
        # Channels never touch the control block: the supervisor still reads it.
        ready, version, pid, _ = _core.read_control(bytearray(run.control.map[:first]))
        assert (ready, version, pid) == (True, _core.PROTOCOL_VERSION, os.getpid())


def test_blocks_are_distinct_reused_and_initialized():
    with shm.Run() as run:
        blocks = [run.alloc_channel() for _ in range(shm.BLOCKS_PER_SEGMENT + 1)]
        assert len({b.desc for b in blocks}) == len(blocks)
        assert len(run.segment_names()) == 2  # control with the first slab, a second slab
        freed = blocks[5]
        freed.view[freed.offset + 200] = 0xAB  # dirty it
        run.free_block(freed)
        again = run.alloc_channel()
        assert again.desc == freed.desc
        decoded = _core.decode_channel(bytes(again.view[again.offset:again.offset + _core.BLOCK_SIZE]))
        assert decoded["magic_ok"] and decoded["state"] == "idle"
        assert decoded["event"]["args"] == [0] * 6


def test_channel_points_at_control_block():
    with shm.Run() as run:
        block = run.alloc_channel()
        raw = bytes(block.view[block.offset:block.offset + _core.CHANNEL_SIZE])
        off = _core.layout()["pyshim_channel"]["fields"]["control"]
        assert _core.unpack_desc(raw[off:off + 64]) == run.control_desc


def test_control_block_names_the_supervisor():
    with shm.Run() as run:
        ready, version, pid, start = _core.read_control(bytearray(run.control.map[:]))
        assert (ready, version, pid) == (True, _core.PROTOCOL_VERSION, os.getpid())
        assert start == shm.process_start_time(os.getpid())


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def test_gc_removes_dead_runs_and_keeps_live_ones():
    live = shm.Run()
    dead = shm.Run()
    try:
        dead.alloc_channel()
        _core.init_control(dead.control.map, _dead_pid(), 12345)
        removed = shm.gc()
        assert dead.run_id in {r.run_id for r in removed}
        assert live.run_id not in {r.run_id for r in removed}
        assert all(not os.path.exists(shm_path(n)) for n in dead.segment_names())
        assert all(os.path.exists(shm_path(n)) for n in live.segment_names())
    finally:
        live.close()
        dead.close()


def test_gc_detects_pid_reuse():
    """A live process with the recorded pid but another start time is not
    the supervisor."""
    run = shm.Run()
    try:
        _core.init_control(run.control.map, os.getpid(), 1)
        assert run.run_id in {r.run_id for r in shm.gc()}
    finally:
        run.close()


def test_gc_leaves_a_run_being_created_alone(no_leaks):
    name = f"/pyshim-{no_leaks}creating-0"
    seg = shm.Segment(name, _core.CONTROL_SIZE)  # not initialized yet
    try:
        runs = {r.run_id: r for r in shm.list_runs()}
        assert runs[f"{no_leaks}creating"].reason == "being created"
        assert f"{no_leaks}creating" not in {r.run_id for r in shm.gc()}
    finally:
        seg.unlink()


def test_gc_removes_slabs_without_control(no_leaks):
    seg = shm.Segment(f"/pyshim-{no_leaks}orphan-1", 4096)
    removed = {r.run_id: r for r in shm.gc()}
    assert removed[f"{no_leaks}orphan"].reason == "no control segment"
    assert not os.path.exists(shm_path(seg.name))


def test_run_tag_must_be_plain():
    with pytest.raises(ValueError, match="run tag"):
        shm.new_run_id("bad-tag")


def test_retired_mappings_are_bounded(no_leaks):
    """A finished run's mapping waits for the next supervised spawn to be
    given back; a process that makes runs without one (shm.Run directly)
    still keeps only a few: each holds memory and one of the SIGBUS
    guard's slots, and with the slots gone a truncated segment would kill
    the process."""
    code = (
        "import os\n"
        "from pyshim import shm\n"
        "for _ in range(1100):\n"
        "    with shm.Run():\n"
        "        pass\n"
        "print(len(shm._retired) <= shm.RETIRED_MAX)\n"
        "run = shm.Run()\n"
        "os.truncate('/dev/shm' + run.control.name, 0)\n"
        "run.control.map[100] = 1  # repaired by the guard: reads zeros\n"
        "run.close()\n"
        "print('survived')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert (out.stdout, out.returncode) == ("True\nsurvived\n", 0), out.stderr


def test_a_mapping_is_a_plain_byte_buffer():
    """memoryview(Mapping): bytes, writable, one dimension, castable; and
    making views leaks nothing (a reference to None, once)."""
    fd = os.memfd_create("pyshim-test")
    try:
        os.ftruncate(fd, 8192)
        m = _core.Mapping(fd, 8192)
    finally:
        os.close(fd)
    view = memoryview(m)
    assert (view.format, view.shape, view.strides, view.readonly) == ("B", (8192,), (1,), False)
    view[4:8] = b"\x01\x00\x00\x00"
    assert view.cast("I")[1] == 1
    before = sys.getrefcount(None)
    views = [memoryview(m) for _ in range(1000)]
    del views
    assert sys.getrefcount(None) - before < 100


def test_gc_leaves_a_run_whose_supervisor_holds_its_lock(no_leaks):
    """A run whose control block is not written yet (its supervisor writes
    it after the spawn) is left alone while its liveness lock is held,
    however old its segment looks."""
    run = shm.Run(map_later=True)
    try:
        _core.hold_liveness(run.control.fd)
        old = time.time() - 2 * shm.CREATION_GRACE_S
        os.utime(shm_path(run.control.name), (old, old))
        runs = {r.run_id: r for r in shm.list_runs()}
        assert runs[run.run_id].reason == "being created"
        assert run.run_id not in {r.run_id for r in shm.gc()}
        assert os.path.exists(shm_path(run.control.name))
    finally:
        run.close()
    # Without the lock, the same old segment is garbage.
    seg = shm.Segment(f"/pyshim-{no_leaks}old-0", _core.CONTROL_SIZE)
    os.utime(shm_path(seg.name), (old, old))
    assert {r.run_id: r for r in shm.gc()}[f"{no_leaks}old"].reason == \
        "control segment never initialized"


def test_gc_removes_a_run_whose_supervisor_died_before_setting_it_up(no_leaks):
    """A supervisor names itself in segment 0 before it spawns the program
    and sets the run up after: one killed in between leaves a segment that
    gc removes at once, by that name, however young it is."""
    run = shm.Run(map_later=True)  # its lock is not taken
    try:
        run.name_supervisor()
        assert {r.run_id: r for r in shm.list_runs()}[run.run_id].reason == "being created"
        os.pwrite(run.control.fd, _core.control_identity(_dead_pid(), 12345), 0)
        removed = {r.run_id: r for r in shm.gc()}
        assert removed[run.run_id].reason == f"supervisor {removed[run.run_id].supervisor_pid} is gone"
        assert not os.path.exists(shm_path(run.control.name))
    finally:
        run.close()


def test_gc_trusts_a_held_lock_over_the_pid_a_run_names(no_leaks):
    """A supervisor in another pid namespace (or without /proc) names a pid
    that means nothing here: while its lock is held, its run is being
    created, not garbage."""
    run = shm.Run(map_later=True)
    try:
        _core.hold_liveness(run.control.fd)
        os.pwrite(run.control.fd, _core.control_identity(_dead_pid(), 12345), 0)
        assert run.run_id not in {r.run_id for r in shm.gc()}
        assert {r.run_id: r for r in shm.list_runs()}[run.run_id].reason == "being created"
    finally:
        run.close()
