"""Shared memory of a run: segments, blocks and descriptors (posix_ipc).

A run owns segments named ``/pyshim-<run id>-<n>``, created ``O_EXCL`` with
mode 0600.  Segment n holds slab n, fixed-size blocks, one per thread
channel.  Segment 0 also holds the run's control block (supervisor pid and
start time, the doorbell), before its slab: a run of up to 64 threads has
that one segment, and a run creates the next only when every block is
taken (ipc/pyshim_ipc.h, PYSHIM_FIRST_SLAB_OFFSET).  A block is named by a descriptor
``(segment, offset, size)``, whose text form ``segment:offset:size`` travels
in the environment and whose serialized form (``_core.pack_desc``) travels
in shared memory.

``gc()`` removes the segments of runs whose supervisor is gone; every run
calls it when it starts, and ``pyshim gc`` calls it by hand.  With
``$PYSHIM_RUN_TAG`` set, run ids start with the tag and gc only looks at
runs with that tag, so parallel test workers never collect each other's.
"""
from __future__ import annotations

import os
import time

import posix_ipc

from pyshim import _core

SHM_DIR = "/dev/shm"
PREFIX = "pyshim-"
BLOCKS_PER_SEGMENT = _core.SLAB_BLOCKS
SLAB_SIZE = BLOCKS_PER_SEGMENT * _core.BLOCK_SIZE
# A run whose control block is not initialized yet is left alone this long
# (it is being created); after that its segments are garbage.
CREATION_GRACE_S = 10.0
# Run ids may carry a tag (for tests: one per test, so each can check its own
# leaks); tags use only these characters so names parse unambiguously.


def _alnum(text: str) -> bool:
    """Letters and digits of ASCII only (no `re` on the run path: it costs
    start-up)."""
    return text.isascii() and text.isalnum()


def _parse_name(name: str) -> tuple[str, int] | None:
    """(run id, segment number) of a /dev/shm entry named
    pyshim-<run id>-<n>, or None."""
    if not name.startswith(PREFIX):
        return None
    run_id, dash, n = name[len(PREFIX):].rpartition("-")
    if not dash or not _alnum(run_id) or not (n.isascii() and n.isdigit()):
        return None
    return run_id, int(n)


def _acl(uids) -> bytes:
    """A POSIX access ACL (the system.posix_acl_access xattr) giving the
    owner and each of `uids` read and write, and nobody else anything."""
    import struct

    undefined = 0xFFFFFFFF
    # (tag, permissions, id): USER_OBJ, USER..., GROUP_OBJ, MASK, OTHER
    entries = [(0x01, 6, undefined), *[(0x02, 6, uid) for uid in sorted(uids)],
               (0x04, 0, undefined), (0x10, 6, undefined), (0x20, 0, undefined)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


def segment_name(run_id: str, n: int) -> str:
    return f"/{PREFIX}{run_id}-{n}"


def slab_start(name: str) -> int:
    """Offset of the first block in the segment `name` (/pyshim-<run id>-<n>):
    segment 0 has the control block before its slab."""
    return _core.FIRST_SLAB_OFFSET if name.endswith("-0") else 0


def run_tag(tag: str | None = None) -> str:
    """`tag`, or $PYSHIM_RUN_TAG, checked."""
    tag = os.environ.get("PYSHIM_RUN_TAG", "") if tag is None else tag
    if len(tag) > 24 or (tag and not _alnum(tag)):
        raise ValueError(f"a run tag is up to 24 letters and digits, not {tag!r}")
    return tag


def new_run_id(tag: str | None = None) -> str:
    """A random run id, prefixed by the run tag."""
    return run_tag(tag) + os.urandom(8).hex()


def _own_identity() -> tuple[int, int, int]:
    """(pid, start time, pid namespace inode) of this process, read once
    per process (a fork child reads its own)."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity[0] != pid:
        try:
            pidns = os.stat("/proc/self/ns/pid").st_ino
        except OSError:
            pidns = 0
        _identity = (pid, process_start_time(pid) or 0, pidns)
    return _identity


_identity: tuple[int, int, int] | None = None


def _children_pidns() -> int:
    """The inode of the pid namespace the calling thread's children start
    in (0 if unknown); read at every run: an unshare(CLONE_NEWPID) or setns
    moves it, for the calling thread only (/proc/self is the main
    thread's)."""
    try:
        return os.stat("/proc/thread-self/ns/pid_for_children").st_ino
    except OSError:
        return 0


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[19])


class Block:
    """One block: where it is and a writable view of its segment."""

    __slots__ = ("segment", "offset", "size", "view", "index")

    def __init__(self, segment: str, offset: int, size: int, view: memoryview, index: int = 0):
        self.segment = segment
        self.offset = offset
        self.size = size
        self.view = view
        self.index = index  # the channel's bit in the run's ready set

    @property
    def desc(self) -> tuple[str, int, int]:
        return (self.segment, self.offset, self.size)

    @property
    def text(self) -> str:
        """The descriptor's text form, as the shim reads it from the environment."""
        return f"{self.segment}:{self.offset}:{self.size}"

    def __repr__(self) -> str:
        return f"Block({self.text!r}, index={self.index})"


class Segment:
    """A POSIX shared-memory segment created exclusively, mapped now or, for
    a run's control segment, once its program is on its way (map_now())."""

    def __init__(self, name: str, size: int, keep_fd: bool = False, mapped: bool = True):
        shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, mode=0o600, size=size)
        # The descriptor, kept if asked (the control segment's carries the
        # run's liveness lock) or until the segment is mapped, else closed:
        # the mapping is enough.
        self.fd = shm.fd
        self._keep_fd = keep_fd
        self.name = name
        self.size = size
        self.map: memoryview | None = None
        # As a slab: the offset of its first block, and that block's bit in
        # the run's ready set.
        self.first_block = slab_start(name)
        self.first_index = 0
        if mapped:
            try:
                self.map_now()
            except BaseException:
                shm.unlink()
                os.close(self.fd)
                raise

    def map_now(self) -> None:
        """Maps the segment, guarded: a program of the run may truncate it,
        and the supervisor's accesses must not die of SIGBUS (core/guard.h).
        The descriptor is closed then, unless kept."""
        self.map = memoryview(_core.Mapping(self.fd, self.size))
        if not self._keep_fd:
            os.close(self.fd)
            self.fd = -1

    def grant(self, uids) -> None:
        """Lets the users `uids` open the segment too (a process of the run
        switched to them: its new images must reach their channels), and no
        one else: an ACL where the file system has them, else the owner."""
        path = SHM_DIR + self.name
        try:
            os.setxattr(path, "system.posix_acl_access", _acl(uids))
        except OSError:
            os.chown(path, min(uids), -1)  # the supervisor, as root, keeps access

    def unlink(self) -> None:
        """Removes the name and the descriptor; the mapping is retired
        (unmapped at the next release_retired(), or later if a channel
        still points into it)."""
        try:
            posix_ipc.unlink_shared_memory(self.name)
        except posix_ipc.ExistentialError:
            pass
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.map is not None:
            _retired.append(self.map)
            if len(_retired) > RETIRED_MAX:  # runs made without a supervised spawn
                release_retired()


# Mappings of segments already unlinked.  Giving a segment's pages back
# costs its last unmap ~30 us; the supervisor does it at a moment it would
# wait anyway (the next run's program loading), not on a run's way out.
# Nothing else is held meanwhile: no name, no descriptor.  Bounded: each
# holds memory and one of the SIGBUS guard's 1024 slots.
_retired: list = []
RETIRED_MAX = 64


def release_retired() -> None:
    """Unmaps the retired segments no one points into any more."""
    _retired.clear()


class Run:
    """The segments of one run; free everything with close()."""

    def __init__(self, tag: str | None = None, *, map_later: bool = False):
        self.run_id = new_run_id(tag)
        # Segment 0: the control block, then slab 0 on a page of its own.
        self.control = Segment(segment_name(self.run_id, 0),
                               _core.FIRST_SLAB_OFFSET + SLAB_SIZE, keep_fd=True,
                               mapped=False)
        self._slabs: list[Segment] = []  # slab n is in _slabs[n]; slab 0 in the control segment
        self._free: list[tuple[Segment, int]] = []
        self._granted: set[int] = set()  # users the run's processes became
        self._closed = False
        if not map_later:
            self.map_control()

    def name_supervisor(self) -> None:
        """Writes who the run's supervisor is into segment 0, before the
        program is spawned and the run set up (then its magic is still 0):
        gc removes a run whose supervisor died in between.  Call it once
        the run's liveness lock is held."""
        os.pwrite(self.control.fd, _core.control_identity(*_own_identity()), 0)

    @property
    def first_channel_text(self) -> str:
        """The text descriptor of the first channel alloc_channel gives
        (known before the control segment is mapped)."""
        return f"{self.control.name}:{_core.FIRST_SLAB_OFFSET}:{_core.BLOCK_SIZE}"

    def _map_segment0(self) -> None:
        """Maps segment 0 and makes its slab the run's first (the run is
        closed if it cannot be mapped)."""
        try:
            self.control.map_now()
        except BaseException:
            self.close()
            raise
        self._add_slab(self.control)

    def map_control(self) -> None:
        """Maps and initializes the control segment."""
        self._map_segment0()
        _core.init_control(self.control.map, *_own_identity())

    def start_program_channel(self) -> Block:
        """Late set-up (ipc/PROTOCOL.md): maps segment 0 after the run's
        program was spawned with first_channel_text in its environment,
        while it loads, and gives it its channel; the control block's magic
        goes last, and wakes the program's shim if it already waits for it
        (then a channel found unset is a freed one, never waited for).  The
        pid namespace's stat (5-12 us) is hidden there too."""
        self._map_segment0()
        block = self.alloc_channel()
        assert block.text == self.first_channel_text
        pidns = _children_pidns()
        if pidns:
            _core.set_program_pidns(self.control.map, pidns)
        _core.init_control(self.control.map, *_own_identity(), wake=True)
        return block

    @property
    def control_desc(self) -> tuple[str, int, int]:
        return (self.control.name, 0, _core.CONTROL_SIZE)

    def _add_slab(self, seg: Segment) -> None:
        """Makes the blocks of `seg`, the next slab, free (lowest offset
        first out)."""
        seg.first_index = len(self._slabs) * BLOCKS_PER_SEGMENT
        self._slabs.append(seg)
        self._free = [(seg, seg.first_block + i * _core.BLOCK_SIZE)
                      for i in reversed(range(BLOCKS_PER_SEGMENT))]

    def alloc_channel(self) -> Block:
        """A block holding an idle channel that points at this run's doorbell."""
        if not self._free:
            seg = Segment(segment_name(self.run_id, len(self._slabs)), SLAB_SIZE)
            if self._granted:
                seg.grant(self._granted)
            self._add_slab(seg)
        seg, offset = self._free.pop()
        index = seg.first_index + (offset - seg.first_block) // _core.BLOCK_SIZE
        _core.init_channel(seg.map, offset, self.control_desc, index)
        return Block(seg.name, offset, _core.BLOCK_SIZE, seg.map, index)

    def grant(self, uid: int) -> None:
        """A process of the run is becoming user `uid`: every segment of the
        run, now and later, is opened to that user (and only to it)."""
        if uid in self._granted or uid == os.geteuid() or self._closed:
            return
        self._granted.add(uid)
        for seg in self._slabs:
            seg.grant(self._granted)

    def free_block(self, block: Block) -> None:
        for seg in self._slabs:
            if seg.name == block.segment:
                _core.retire_channel(seg.map, block.offset)
                self._free.append((seg, block.offset))
                return
        raise ValueError(f"{block.segment} is not a segment of run {self.run_id}")

    @property
    def blocks_in_use(self) -> int:
        return len(self._slabs) * BLOCKS_PER_SEGMENT - len(self._free)

    def segment_names(self) -> list[str]:
        return [s.name for s in self._slabs]

    def close(self) -> None:
        """Unlinks every segment (later slabs first, the control segment
        last, so gc never sees slabs without their control block from a
        clean close)."""
        if self._closed:
            return
        self._closed = True
        for seg in reversed(self._slabs):
            seg.unlink()
        if not self._slabs:  # never mapped
            self.control.unlink()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# One run found in /dev/shm: its segments, its supervisor's pid (None when
# unknown), whether it is alive, and why it is judged so.
class RunInfo(tuple):
    """(run_id, segments, supervisor_pid, alive, reason) of one run, as a
    namedtuple would have it (collections is not imported for it)."""

    __slots__ = ()
    _fields = ("run_id", "segments", "supervisor_pid", "alive", "reason")

    def __new__(cls, run_id, segments, supervisor_pid, alive, reason):
        return tuple.__new__(cls, (run_id, segments, supervisor_pid, alive, reason))

    run_id = property(lambda self: self[0])
    segments = property(lambda self: self[1])
    supervisor_pid = property(lambda self: self[2])
    alive = property(lambda self: self[3])
    reason = property(lambda self: self[4])

    def __repr__(self) -> str:
        return "RunInfo(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self)) + ")"


def _supervisor_alive(pid: int, start: int) -> bool:
    return pid > 0 and process_start_time(pid) == start


def list_runs(tag: str | None = None) -> list[RunInfo]:
    """Every run with the run tag that has segments in /dev/shm, alive or not."""
    tag = run_tag(tag)
    groups: dict[str, list[tuple[int, str]]] = {}
    try:
        names = os.listdir(SHM_DIR)
    except FileNotFoundError:
        return []
    for name in names:
        parsed = _parse_name(name)
        if parsed and parsed[0].startswith(tag):
            groups.setdefault(parsed[0], []).append((parsed[1], name))
    runs = []
    for run_id, segs in sorted(groups.items()):
        segs.sort()
        names = ["/" + n for _, n in segs]
        control = os.path.join(SHM_DIR, f"{PREFIX}{run_id}-0")
        try:
            with open(control, "rb") as f:
                data = f.read(_core.CONTROL_HEADER_SIZE)
                # A supervisor takes the run's liveness lock before it
                # spawns the program, and writes the control block after.
                locked = _core.liveness_held(f.fileno())
            age = time.time() - os.stat(control).st_mtime
        except OSError:
            runs.append(RunInfo(run_id, names, None, False, "no control segment"))
            continue
        ready, _version, pid, start = _core.read_control(bytearray(data))
        if not ready and not locked and pid and not _supervisor_alive(pid, start):
            # Its supervisor named itself before the spawn and died before
            # setting the run up (its lock went with it; a held lock says it
            # lives, whatever its pid means here: another pid namespace).
            runs.append(RunInfo(run_id, names, pid, False, f"supervisor {pid} is gone"))
        elif not ready:
            young = age < CREATION_GRACE_S or locked
            runs.append(RunInfo(run_id, names, pid or None, young,
                                "being created" if young else "control segment never initialized"))
        elif _supervisor_alive(pid, start):
            runs.append(RunInfo(run_id, names, pid, True, "supervisor alive"))
        else:
            runs.append(RunInfo(run_id, names, pid, False, f"supervisor {pid} is gone"))
    return runs


GC_EVERY_S = 1.0
_last_gc = -GC_EVERY_S


def gc_now_and_then() -> None:
    """gc(), at most once a second in a process: the many short runs of a
    test suite need not each scan /dev/shm."""
    global _last_gc
    now = time.monotonic()
    if now - _last_gc >= GC_EVERY_S:
        _last_gc = now
        gc()


def gc(tag: str | None = None) -> list[RunInfo]:
    """Removes the segments of every dead run with the run tag; returns the
    runs removed."""
    removed = []
    for run in list_runs(tag):
        if run.alive:
            continue
        for name in run.segments:
            try:
                posix_ipc.unlink_shared_memory(name)
            except posix_ipc.ExistentialError:
                pass
        removed.append(run)
    return removed
