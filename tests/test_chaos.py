"""Chaos schedules: pseudo-random holds drawn from a seed find races that
native runs never show, and a seed replays its draws."""
import subprocess

import pytest

from conftest import pyshim_cli
from pyshim import Supervisor
from pyshim.chaos import Chaos

# tests/progs/held.c "slow": main gives a worker thread 20 ms to write 40
# records and publish, which natively takes microseconds.
CHAOS = dict(chaos_rate=0.3, chaos_max_delay=0.01)


def test_chaos_finds_the_race_native_runs_never_show(pyshim_run, prog):
    argv = [prog("held"), "slow"]
    native = [subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
              for _ in range(10)]
    assert native == ["published in time\n"] * 10
    for seed in range(10):
        r = pyshim_run(argv, chaos=seed, timeout=30, **CHAOS)
        if r.status == 1:
            break
    else:
        pytest.fail("no seed of 10 found the race")
    assert r.stdout == "RACE: not published after 20 ms\n"
    assert r.chaos.startswith(f"chaos seed {seed}: held ")
    again = pyshim_run(argv, chaos=seed, timeout=30, **CHAOS)  # the seed replays it
    assert (again.status, again.stdout) == (1, r.stdout)
    assert again.chaos == r.chaos


def test_same_seed_same_draws_per_thread():
    def draws(seed, order):
        chaos = Chaos(seed, rate=0.5, max_delay=0.004)
        out = {t: [] for t in order}
        for t in order:
            out[t].append(chaos.delay(t))
        return out

    a = draws(3, [0, 1, 0, 2, 1, 0])
    b = draws(3, [1, 0, 2, 0, 0, 1])  # threads call in another order
    assert a == b
    assert a != draws(4, [0, 1, 0, 2, 1, 0])
    delays = [d for seq in draws(3, [0] * 200).values() for d in seq]
    assert 0 < sum(1 for d in delays if d) < 200 and max(delays) <= 0.004


def test_chaos_keeps_the_handlers_answers(prog, tmp_path):
    sup = Supervisor()
    sup.on("getppid")(lambda call: 1234)
    chaos = Chaos(1, rate=1.0, max_delay=0.002).install(sup)
    with open(tmp_path / "out", "wb") as f:
        assert sup.run([prog("probe"), "ppid"], stdout=f) == 0
    assert (tmp_path / "out").read_text() == "getppid 1234\n"
    assert chaos.held == chaos.calls >= 1


def test_chaos_holds_before_an_async_handler(prog, tmp_path):
    import asyncio

    sup = Supervisor()

    @sup.on("getppid")
    async def answer(call):
        await asyncio.sleep(0)
        return 77

    Chaos(2, rate=1.0, max_delay=0.002).install(sup)
    with open(tmp_path / "out", "wb") as f:
        assert sup.run([prog("probe"), "ppid"], stdout=f) == 0
    assert (tmp_path / "out").read_text() == "getppid 77\n"


def test_chaos_arguments_are_checked():
    with pytest.raises(ValueError, match="seed"):
        Chaos(-1)
    with pytest.raises(ValueError, match="rate"):
        Chaos(1, rate=1.5)


def test_cli_chaos_reports_its_seed(prog):
    r = pyshim_cli("run", "--chaos", "5", "--chaos-rate", "0.3", "--chaos-max-ms", "10",
                   "--", prog("held"), "slow")
    assert r.returncode == 1 and r.stdout == "RACE: not published after 20 ms\n"
    assert r.stderr.startswith("pyshim: chaos seed 5: held ")
    assert r.stderr.rstrip().endswith("(rerun with --chaos 5)")
    r = pyshim_cli("run", "--chaos", "random", "--", "true")
    assert r.returncode == 0 and "pyshim: chaos seed " in r.stderr
    r = pyshim_cli("run", "--chaos", "x", "--", "true")
    assert r.returncode == 2 and "a seed is a number >= 0 or 'random'" in r.stderr
    r = pyshim_cli("run", "--chaos-rate", "0.5", "--", "true")
    assert r.returncode == 2 and "--chaos-rate and --chaos-max-ms go with --chaos SEED" in r.stderr
    help_text = pyshim_cli("run", "--help").stdout
    assert "Guaranteed:" in help_text and "Not guaranteed:" in help_text
