"""`pyshim inspect` on live runs: read-only, from another process, with a
clear word when segments are gone or malformed."""
import json
import os

import pytest

from conftest import pyshim_cli
from pyshim import Supervisor, _core, shm


def inspect_during_a_call(tmp_path, *cli_args, syscall="getppid", block=False):
    """Runs a program whose `syscall` waits in a handler while another
    process runs `pyshim inspect ...` (with --block: the thread's channel)."""
    seen = {}
    sup = Supervisor()

    @sup.on(syscall)
    def look(call):
        args = list(cli_args) + (["--block", sup.threads[0]["channel"]] if block else [])
        seen["out"] = pyshim_cli("inspect", *args)
        seen["pid"] = call.pid
        seen["channel"] = sup.threads[0]["channel"]

    with open(tmp_path / "out", "wb") as f:
        status = sup.run(["python3", "-c", "import os; os.getppid(); print('done')"], stdout=f)
    assert status == 0 and (tmp_path / "out").read_text() == "done\n"  # undisturbed
    return seen


def test_live_runs_as_json(tmp_path):
    seen = inspect_during_a_call(tmp_path, "--json")
    assert seen["out"].returncode == 0, seen["out"].stderr
    runs = json.loads(seen["out"].stdout)
    run, = [r for r in runs if r["supervisor"] == os.getpid()]
    proc, = run["processes"]
    thread, = proc["threads"]
    assert proc["pid"] == thread["tid"] == seen["pid"]
    assert (thread["state"], thread["last_event"], thread["syscall"]) == ("event", "Syscall", "getppid")
    assert thread["channel"] == seen["channel"]
    assert run["malformed_blocks"] == 0
    # The one thread's channel is in the run's one segment, after the control block.
    segment, = run["segments"]
    assert thread["channel"] == f"{segment}:{_core.FIRST_SLAB_OFFSET}:{_core.BLOCK_SIZE}"


def test_live_runs_as_text(tmp_path):
    seen = inspect_during_a_call(tmp_path)
    text = seen["out"].stdout
    assert f"supervisor {os.getpid()}" in text
    assert f"pid {seen['pid']}" in text
    assert "event" in text and "Syscall getppid" in text and seen["channel"] in text


def test_one_block(tmp_path):
    seen = inspect_during_a_call(tmp_path, "--json", block=True)
    block = json.loads(seen["out"].stdout)
    assert block["block"] == seen["channel"]
    assert block["supervisor_alive"] is True
    assert (block["state"], block["syscall"], block["pid"]) == ("event", "getppid", seen["pid"])
    text = inspect_during_a_call(tmp_path, block=True)["out"].stdout
    assert "state event" in text and "getppid(0x" in text


def test_no_live_runs(no_leaks):
    out = pyshim_cli("inspect")
    assert (out.returncode, out.stdout) == (0, "no live runs\n")


def test_gone_segment_is_explained():
    out = pyshim_cli("inspect", "--block", "/pyshim-gone0000-1:0:512")
    assert out.returncode == 1
    assert out.stderr == ("pyshim: /pyshim-gone0000-1: no such segment (its run has ended, "
                          "or its supervisor died and pyshim gc removed it)\n")


@pytest.mark.parametrize("text", ["garbage", "nope:1:2", "/a/b:0:512"])
def test_bad_descriptor(text):
    out = pyshim_cli("inspect", "--block", text)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "pyshim: " in out.stderr


@pytest.fixture
def fake_run(no_leaks):
    """A run of this process with one channel, one block of garbage and one
    free block in its slab."""
    run = shm.Run()
    good = run.alloc_channel()
    bad = run.alloc_channel()
    freed = run.alloc_channel()
    bad.view[bad.offset + 8:bad.offset + 12] = b"\xde\xad\xbe\xef"  # magic
    run.free_block(freed)
    yield run, good, bad, freed
    run.close()


def test_malformed_blocks_are_reported(fake_run):
    run, good, bad, freed = fake_run
    out = pyshim_cli("inspect", "--json")
    listed, = [r for r in json.loads(out.stdout) if r["run"] == run.run_id]
    assert listed["malformed_blocks"] == 1
    assert [t["channel"] for p in listed["processes"] for t in p["threads"]] == [good.text]
    assert "1 malformed blocks" in pyshim_cli("inspect").stdout


def test_malformed_and_free_blocks_explained(fake_run):
    run, good, bad, freed = fake_run
    out = pyshim_cli("inspect", "--block", bad.text)
    assert out.returncode == 1 and "malformed: not a channel (magic 0xefbeadde)" in out.stderr
    out = pyshim_cli("inspect", "--block", freed.text)
    assert out.returncode == 1 and "a free block" in out.stderr
    out = pyshim_cli("inspect", "--block", f"{good.segment}:{10 ** 6}:512")
    assert out.returncode == 1 and "outside its segment" in out.stderr


def test_channels_of_every_slab_are_listed(no_leaks):
    """65 channels: 64 after the control block in segment 0, one in segment
    1; the control block itself is never taken for blocks."""
    with shm.Run() as run:
        blocks = [run.alloc_channel() for _ in range(shm.BLOCKS_PER_SEGMENT + 1)]
        out = pyshim_cli("inspect", "--json")
        listed, = [r for r in json.loads(out.stdout) if r["run"] == run.run_id]
        assert listed["segments"] == run.segment_names() and len(listed["segments"]) == 2
        assert listed["malformed_blocks"] == 0
        channels = [t["channel"] for p in listed["processes"] for t in p["threads"]]
        assert sorted(channels) == sorted(b.text for b in blocks)


def test_control_block_is_not_a_channel(fake_run):
    run, good, bad, freed = fake_run
    out = pyshim_cli("inspect", "--block", f"{run.control.name}:0:512")
    assert out.returncode == 1 and "inside the run's control block" in out.stderr
    assert f"{run.control.name}:{_core.FIRST_SLAB_OFFSET}" in out.stderr


def test_record_and_block_are_exclusive(tmp_path):
    out = pyshim_cli("inspect", "--block", "/pyshim-x-1:0:512", str(tmp_path / "f"))
    assert out.returncode == 2 and "not both" in out.stderr
