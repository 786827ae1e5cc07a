"""The shim's clone helpers driven in the test process (pyshim._core's
do_clone_thread / do_clone_process): what the child saw, and hundreds of
clones per worker without leaking threads, mappings or children."""
import os

from hypothesis import given, settings, strategies as st

from pyshim import _core

GPRS = [r for r in _core.PROBE_REGISTERS if r not in ("rax", "rsp", "rcx")]
DESC = ("/pyshim-probe-1", 1024, 512)


def pattern(seed):
    return {name: (seed * 0x9E3779B97F4A7C15 + i * 0x1000193) % 2**64
            for i, name in enumerate(GPRS)}


def check_child(report, regs, desc):
    seen = report["registers"]
    assert report["landed"] == 1
    assert seen["rax"] == 0  # the child's view of clone
    for name in GPRS:  # every other register as the parent left it
        assert seen[name] == regs[name], name
    assert seen["rsp"] % 16 == 0  # resumed exactly on the given, aligned stack
    assert report["init_frame"] % 16 == 0  # its first C function ran aligned
    assert report["desc"] == desc  # it found its own block descriptor


def test_thread_sees_zero_restored_registers_and_its_descriptor():
    regs = pattern(1)
    report = _core.do_clone_thread(regs, DESC, mxcsr=0x1F80 | 0x6000, xmm0=bytes(range(16)))
    check_child(report, regs, DESC)
    assert report["tid"] == report["result"] and report["pid"] == os.getpid()
    assert report["mxcsr"] == 0x1F80 | 0x6000  # FPU control restored (rounding mode)
    assert report["xmm0"] == bytes(range(16))


def test_process_with_stack_switch():
    regs = pattern(2)
    report = _core.do_clone_process(regs, DESC, switch_stack=True, xmm0=b"\xab" * 16)
    check_child(report, regs, DESC)
    assert report["pid"] == report["result"] != os.getpid()
    assert report["status"] == 0 and report["xmm0"] == b"\xab" * 16


def test_process_without_stack_switch_returns_zero_in_the_child():
    report = _core.do_clone_process(pattern(3), DESC, switch_stack=False)
    assert report["landed"] == 2 and report["clone_rax"] == 0
    assert report["pid"] == report["result"] and report["desc"] == DESC


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), offset=st.integers(0, 2**40))
def test_any_register_values_survive(seed, offset):
    regs = pattern(seed)
    desc = ("/pyshim-probe-2", offset, 512)
    check_child(_core.do_clone_thread(regs, desc), regs, desc)


def _threads():
    return len(os.listdir("/proc/self/task"))


def _mappings():
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def _children():
    kids = set()
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/children") as f:
            kids.update(f.read().split())
    return kids


def test_stress_hundreds_of_clones_leak_nothing():
    threads, maps, children = _threads(), _mappings(), _children()
    for i in range(300):
        regs = pattern(i)
        desc = ("/pyshim-stress-1", i * 512, 512)
        check_child(_core.do_clone_thread(regs, desc), regs, desc)
    for i in range(100):
        regs = pattern(i)
        report = _core.do_clone_process(regs, DESC, switch_stack=bool(i % 2))
        assert report["status"] == 0 and report["result"] > 0
    assert _threads() == threads
    assert _mappings() == maps
    assert _children() == children


def test_unknown_register_is_refused():
    import pytest

    with pytest.raises(ValueError, match="unknown registers"):
        _core.do_clone_thread({"rip": 1}, DESC)
