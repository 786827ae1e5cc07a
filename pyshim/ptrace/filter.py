"""The seccomp-bpf filter of the ptrace path: SECCOMP_RET_TRACE for the
subscribed syscalls of x86-64, SECCOMP_RET_ALLOW for everything else.

The program reads only the architecture and the syscall number, never the
arguments, so the kernel (5.11 and newer) caches "allow" for every
unsubscribed number and never runs the filter for them: an unsubscribed
call costs what it costs without pyshim, give or take the slower syscall
entry of a process with a filter.  Each test jumps at most two
instructions ahead, so no jump offset overflows whatever the set.
"""
from __future__ import annotations

import struct
from collections.abc import Iterable

# linux/filter.h, linux/bpf_common.h, linux/seccomp.h, linux/audit.h
BPF_LD_W_ABS = 0x20        # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15           # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35           # BPF_JMP | BPF_JGE | BPF_K
BPF_JGT_K = 0x25           # BPF_JMP | BPF_JGT | BPF_K
BPF_RET_K = 0x06           # BPF_RET | BPF_K
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_TRACE = 0x7FF00000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
OFFSET_NR = 0              # struct seccomp_data: int nr; __u32 arch; ...
OFFSET_ARCH = 4

_INSN = struct.Struct("<HBBI")  # struct sock_filter: code, jt, jf, k


def ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """The sorted numbers as inclusive (low, high) runs."""
    out: list[list[int]] = []
    for nr in sorted(set(numbers)):
        if out and out[-1][1] == nr - 1:
            out[-1][1] = nr
        else:
            out.append([nr, nr])
    return [(lo, hi) for lo, hi in out]


def program(numbers: Iterable[int]) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions."""
    allow = (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
    trace = (BPF_RET_K, 0, 0, SECCOMP_RET_TRACE)
    insns = [
        (BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
        (BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),  # another ABI (int 0x80): not ours
        allow,
        (BPF_LD_W_ABS, 0, 0, OFFSET_NR),
        (BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),    # x32 calls: not ours either
        allow,
    ]
    for lo, hi in ranges(n for n in numbers if 0 <= n < X32_SYSCALL_BIT):
        if lo == hi:
            insns += [(BPF_JEQ_K, 0, 1, lo), trace]
        else:
            insns += [(BPF_JGE_K, 0, 2, lo), (BPF_JGT_K, 1, 0, hi), trace]
    insns.append(allow)
    return insns


def build(numbers: Iterable[int]) -> bytes:
    """The filter as the kernel takes it (struct sock_filter[])."""
    return b"".join(_INSN.pack(*insn) for insn in program(numbers))


def verdict(insns: list[tuple[int, int, int, int]], nr: int,
            arch: int = AUDIT_ARCH_X86_64) -> int:
    """What the filter returns for syscall `nr` (a small interpreter of the
    instructions above, for tests)."""
    acc = pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == BPF_LD_W_ABS:
            acc = arch if k == OFFSET_ARCH else nr & 0xFFFFFFFF
            pc += 1
        elif code == BPF_RET_K:
            return k
        else:
            hit = {BPF_JEQ_K: acc == k, BPF_JGE_K: acc >= k, BPF_JGT_K: acc > k}[code]
            pc += 1 + (jt if hit else jf)
