"""Runs one program under one named supervisor configuration and prints
what the program printed (its own timing): used by bench/baseline.py to
measure any revision of pyshim the same way.

    python bench/supervise_one.py CONFIG -- PROG ARGS
"""
import sys

from pyshim import Supervisor


def configured(name: str) -> Supervisor:
    if name == "unsubscribed":
        return Supervisor()
    if name == "trapped":
        return Supervisor(trap="getppid")
    sup = Supervisor()
    if name == "handler-native":
        sup.on("getppid")(lambda call: None)
    elif name == "handler-value":
        sup.on("getppid")(lambda call: 42)
    else:
        raise SystemExit(f"unknown configuration {name!r}")
    return sup


if __name__ == "__main__":
    config, sep, *argv = sys.argv[1:]
    assert sep == "--"
    sys.exit(configured(config).run(argv))
