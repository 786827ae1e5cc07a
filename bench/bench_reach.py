"""What share of real programs' syscalls each fast-path mechanism would reach.

    python bench/bench_reach.py [--json FILE]

Each everyday command runs once under pyshim with every syscall subscribed
(a Python handler that counts and answers "run it natively"), and with
bench/reach_count.c preloaded after the shim.  For every call (clone, fork,
vfork, execve, exit and exit_group left out: the shim always handles them)
the table reports the share that

- **wrappers**: came through one of libc's exported syscall wrappers,
  called from outside libc (what exporting those wrappers from the shim,
  as Shadow's preload-libc does, reaches; calls libc makes internally from
  stdio, readdir, malloc or fopen do not);
- **mov+syscall**: was made by an instruction pair `mov $imm32, %eax;
  syscall` (b8 xx xx xx xx 0f 05), a site that a 5-byte call could
  redirect once its first trap proved it;
- **... in one word**: of those, the ones whose 5-byte `mov` lies inside
  one aligned 8-byte word, so a single atomic store replaces it while other
  threads may run it (the others straddle two words and take two stores
  with a core serialization between, unless the second word keeps its
  bytes);
- **no trap now**: the share that pyshim, with nothing subscribed, runs
  without a trap today (shim/rewrite.c: mov+syscall sites in libc of the
  calls on its allowlist, in one word or straddling two).  Counted as
  1 - (SIGSYS deliveries / calls), the
  SIGSYS deliveries counted by `strace -f -e trace=none -e signal=SIGSYS`
  around `pyshim run`, in a separate run of the same command.
"""
from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import machine_line, print_table, tree_env, write_json
from pyshim import Supervisor, syscalls

HERE = Path(__file__).parent
ALWAYS_HANDLED = {"clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group"}
MOV_EAX = 0xB8
SYSCALL = b"\x0f\x05"


def commands(work: str) -> dict[str, list[str]]:
    src = os.path.join(work, "hello.c")
    with open(src, "w") as f:
        f.write("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
    words = os.path.join(work, "words")
    with open(words, "w") as f:
        f.write("\n".join(str((i * 7919) % 10007) for i in range(20000)) + "\n")
    cmds = {
        "ls -la /usr/bin": ["ls", "-la", "/usr/bin"],
        "find /usr/lib -name '*.so*'": ["find", "/usr/lib", "-name", "*.so*"],
        "tar cf - /usr/include/linux": ["tar", "cf", os.devnull, "/usr/include/linux"],
        "bash: 50 x /bin/true": ["bash", "-c", "for i in $(seq 50); do /bin/true; done"],
        "python3 -c 'import json, sqlite3'": ["python3", "-c", "import json, sqlite3"],
        "gcc -c hello.c": ["gcc", "-c", "-o", os.path.join(work, "hello.o"), src],
        "sort 20,000 lines": ["sort", "-o", os.devnull, words],
        "git status": ["git", "-C", str(HERE.parent), "status", "--short"],
        "cp -r /usr/include/linux": ["cp", "-r", "/usr/include/linux", os.path.join(work, "cp")],
    }
    return {name: argv for name, argv in cmds.items()
            if subprocess.run(["which", argv[0]], capture_output=True).returncode == 0}


def measure(argv: list[str], preload: str, work: str) -> dict:
    counts_path = os.path.join(work, "counts")
    with open(counts_path, "wb") as f:
        f.write(bytes(4096))
    total: collections.Counter = collections.Counter()
    mov: collections.Counter = collections.Counter()
    one_word: collections.Counter = collections.Counter()
    sites: dict = {}
    skip = {syscalls.NUMBERS[n] for n in ALWAYS_HANDLED if n in syscalls.NUMBERS}
    sup = Supervisor()

    @sup.on("all")
    def classify(call):
        if call.nr in skip:
            return None
        total[call.nr] += 1
        key = (call.pid, call.ip)
        kind = sites.get(key)
        if kind is None:
            kind = 0
            try:
                before = call.read(call.ip - 7, 7)
            except OSError:
                before = b""
            if len(before) == 7 and before[0] == MOV_EAX and before[5:] == SYSCALL:
                start = call.ip - 7
                kind = 2 if start // 8 == (start + 4) // 8 else 1
            sites[key] = kind
        if kind:
            mov[call.nr] += 1
            if kind == 2:
                one_word[call.nr] += 1
        return None

    # Sites as libc has them: the direct entry would rewrite these
    # subscribed calls' sites after two traps (shim/direct.c).
    env = dict(os.environ, LD_PRELOAD=preload, REACH_COUNTS=counts_path, PYSHIM_NO_DIRECT="1")
    with open(os.devnull, "w") as null:
        status = sup.run(argv, env=env, stdout=null, stderr=null)
    with open(counts_path, "rb") as f:
        raw = f.read(4096)
    wrapped = {nr: int.from_bytes(raw[nr * 8:nr * 8 + 8], "little") for nr in range(512)}
    # A wrapper counts at most the calls the trap saw (a wrapper may fail
    # before its syscall, or make none, as getpid caches may).
    reached = sum(min(wrapped[nr], total[nr]) for nr in total)
    n = sum(total.values())
    return {"status": status, "calls": n, "wrappers": reached,
            "mov": sum(mov.values()), "one_word": sum(one_word.values()),
            "by_syscall": {syscalls.name(nr): [total[nr], min(wrapped[nr], total[nr]), mov[nr]]
                           for nr in total}}


def traps(argv: list[str], work: str) -> int:
    """SIGSYS deliveries (trapped calls) of argv under `pyshim run`, nothing
    subscribed, as strace counts them; the calls the shim always handles
    (ALWAYS_HANDLED) left out, as in measure()."""
    log = os.path.join(work, "sigsys.log")
    env = tree_env()
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=none", "-e", "signal=SIGSYS", "-o", log,
                    sys.executable, "-m", "pyshim", "run", "--", *argv],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    skipped = tuple(f"si_syscall=__NR_{name}," for name in ALWAYS_HANDLED)
    with open(log) as f:
        return sum(1 for line in f if "SIGSYS" in line and not any(s in line for s in skipped))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="FILE", help="write the raw numbers to FILE")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        so = os.path.join(work, "reach_count.so")
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", so, str(HERE / "reach_count.c"),
                        "-ldl"], check=True)
        results = {}
        for name, argv in commands(work).items():
            results[name] = measure(argv, so, work)
            results[name]["traps_now"] = traps(argv, work)

    print(f"# share of syscalls each fast path would reach; {machine_line()}\n")
    rows = []
    sums = collections.Counter()
    for name, r in results.items():
        n = max(r["calls"], 1)
        fast = max(r["calls"] - r["traps_now"], 0)
        rows.append([name, str(r["calls"]), f"{100 * r['wrappers'] / n:.0f}%",
                     f"{100 * r['mov'] / n:.0f}%", f"{100 * r['one_word'] / n:.0f}%",
                     f"{100 * fast / n:.0f}%"])
        for k in ("calls", "wrappers", "mov", "one_word"):
            sums[k] += r[k]
        sums["fast"] += fast
    n = max(sums["calls"], 1)
    rows.append(["all of the above", str(sums["calls"]), f"{100 * sums['wrappers'] / n:.0f}%",
                 f"{100 * sums['mov'] / n:.0f}%", f"{100 * sums['one_word'] / n:.0f}%",
                 f"{100 * sums['fast'] / n:.0f}%"])
    print_table(["command", "syscalls", "wrappers", "mov+syscall", "... in one word",
                 "no trap now"], rows)
    print("\nTop syscalls per command (calls, through wrappers, at mov+syscall sites):")
    for name, r in results.items():
        top = sorted(r["by_syscall"].items(), key=lambda kv: -kv[1][0])[:6]
        print(f"  {name}: " + ", ".join(f"{s} {c}/{w}/{m}" for s, (c, w, m) in top))
    write_json(args.json, {"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
