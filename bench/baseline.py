"""Another revision of pyshim, built aside, for before/after rows in one run.

``build(rev, workdir)`` checks `rev` out into a git worktree under workdir
and builds its extensions in place; ``measure(tree, config, argv)`` runs
bench/supervise_one.py with that tree first on sys.path (the current tree
when `tree` is None), so both revisions are measured the same way.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import last_number

ROOT = Path(__file__).resolve().parent.parent
ONE = Path(__file__).with_name("supervise_one.py")


def build(rev: str, workdir: str) -> str:
    tree = os.path.join(workdir, "baseline")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", tree, rev],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tree, check=True,
                   capture_output=True)
    return tree


def remove(tree: str) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tree],
                   capture_output=True)


def measure(tree: str | None, config: str, argv: list[str], timeout: float = 300) -> int:
    env = dict(os.environ, PYTHONPATH=tree or str(ROOT))
    with tempfile.TemporaryFile() as out:
        proc = subprocess.run([sys.executable, str(ONE), config, "--", *argv], stdout=out,
                              env=env, timeout=timeout)
        return last_number(out, f"{config} {argv[0]}", proc.returncode)
