"""Read-only inspection of live runs: their processes, threads and channel
states, and the decoding of one block.  Everything here only reads
/dev/shm, so it never disturbs a run, and works on runs of other processes
of the same user."""
from __future__ import annotations

import os

from pyshim import _core, shm, syscalls
from pyshim.errors import PyshimError

NOT_A_CHANNEL = "not a channel"


class InspectError(PyshimError):
    exit_status = 1


def _read_segment(name: str) -> bytes:
    try:
        with open(os.path.join(shm.SHM_DIR, name.lstrip("/")), "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InspectError(f"{name}: no such segment (its run has ended, or its supervisor "
                           "died and pyshim gc removed it)") from None


def _describe(channel: dict) -> dict:
    """A decoded channel in the words a reader expects."""
    event = channel["event"]
    name = syscalls.name(event["nr"]) if event["tag"] in ("Syscall", "SyscallDone") else None
    return {"state": channel["state"], "pid": event["pid"], "tid": event["tid"],
            "last_event": event["tag"], "syscall": name, "result": event["result"],
            "last_reply": channel["reply"]["tag"], "shim_sleeping": channel["shim_sleeping"]}


def _channels(segment: str, data: bytes) -> tuple[list[dict], int]:
    """The live channels in the slab of a segment (after the control block
    in segment 0), and how many blocks hold garbage."""
    found, garbage = [], 0
    first = shm.slab_start(segment)
    for offset in range(first, len(data) - _core.CHANNEL_SIZE + 1, _core.BLOCK_SIZE):
        channel = _core.decode_channel(data[offset:offset + _core.CHANNEL_SIZE])
        if channel["magic"] == 0:
            continue  # never used, or freed
        if not channel["magic_ok"] or channel["version"] != _core.PROTOCOL_VERSION:
            garbage += 1
            continue
        found.append({"channel": f"{segment}:{offset}:{_core.BLOCK_SIZE}", **_describe(channel)})
    return found, garbage


def live_runs() -> list[dict]:
    """Every run (with the current run tag) whose supervisor is alive."""
    runs = []
    for info in shm.list_runs():
        if not info.alive or info.supervisor_pid is None:
            continue
        channels, garbage, gone = [], 0, []
        for name in info.segments:
            try:
                found, bad = _channels(name, _read_segment(name))
            except InspectError:
                gone.append(name)  # freed between listing and reading
                continue
            channels += found
            garbage += bad
        processes: dict[int, list[dict]] = {}
        for ch in channels:
            processes.setdefault(ch["pid"], []).append(ch)
        runs.append({
            "run": info.run_id, "supervisor": info.supervisor_pid,
            "segments": info.segments, "malformed_blocks": garbage, "segments_gone": gone,
            "processes": [{"pid": pid, "threads": sorted(ts, key=lambda t: t["tid"])}
                          for pid, ts in sorted(processes.items())],
        })
    return runs


def format_runs(runs: list[dict]) -> str:
    if not runs:
        return "no live runs"
    lines = []
    for run in runs:
        threads = sum(len(p["threads"]) for p in run["processes"])
        lines.append(f"run {run['run']}  supervisor {run['supervisor']}  "
                     f"{len(run['segments'])} segments  {len(run['processes'])} processes  "
                     f"{threads} threads")
        if run["malformed_blocks"]:
            lines.append(f"  {run['malformed_blocks']} malformed blocks (not channels)")
        for proc in run["processes"]:
            lines.append(f"  pid {proc['pid'] or '(starting)'}")
            for t in proc["threads"]:
                what = f"{t['last_event']} {t['syscall']}" if t["syscall"] else t["last_event"]
                lines.append(f"    tid {t['tid'] or '-':<7} {t['state']:<6} last {what:<24} "
                             f"reply {t['last_reply']:<9} {t['channel']}")
    return "\n".join(lines)


def parse_descriptor(text: str) -> tuple[str, int, int]:
    try:
        segment, offset, size = text.rsplit(":", 2)
        offset, size = int(offset), int(size)
    except ValueError:
        raise InspectError(f"{text!r} is not a block descriptor (segment:offset:size)") from None
    if not segment.startswith("/") or "/" in segment[1:]:
        raise InspectError(f"{segment!r} is not a segment name (/pyshim-RUN-N)")
    return segment, offset, size


def decode_block(text: str) -> dict:
    """One block named by its descriptor, decoded; InspectError when its
    segment is gone or the bytes there are not a channel."""
    segment, offset, size = parse_descriptor(text)
    data = _read_segment(segment)
    if offset + _core.CHANNEL_SIZE > len(data) or size < _core.CHANNEL_SIZE:
        raise InspectError(f"{text}: outside its segment ({len(data)} bytes) or too small "
                           f"for a channel ({_core.CHANNEL_SIZE} bytes)")
    first = shm.slab_start(segment)
    if offset < first:  # segment 0 holds the control block before its slab
        raise InspectError(f"{text}: inside the run's control block (channels start at "
                           f"{segment}:{first})")
    channel = _core.decode_channel(data[offset:offset + _core.CHANNEL_SIZE])
    if channel["magic"] == 0:
        raise InspectError(f"{text}: a free block (its thread has exited, or it was never used)")
    if not channel["magic_ok"]:
        raise InspectError(f"{text}: malformed: {NOT_A_CHANNEL} (magic {channel['magic']:#010x})")
    run = next((r for r in shm.list_runs("") if f"/{shm.PREFIX}{r.run_id}-" in segment + "-"
                and segment in r.segments), None)
    return {"block": text, "run": run.run_id if run else None,
            "supervisor_alive": bool(run and run.alive), **_describe(channel),
            "version": channel["version"], "args": channel["event"]["args"],
            "retval": channel["reply"]["retval"]}


def format_block(block: dict) -> str:
    alive = "alive" if block["supervisor_alive"] else "gone"
    lines = [f"block {block['block']}  run {block['run']} (supervisor {alive})",
             f"  state {block['state']}  shim sleeping: {block['shim_sleeping']}",
             f"  last event {block['last_event']}: pid {block['pid']} tid {block['tid']}"
             + (f" {block['syscall']}({', '.join(hex(a) for a in block['args'])})"
                if block["syscall"] else ""),
             f"  last reply {block['last_reply']}: retval {block['retval']}"]
    return "\n".join(lines)
