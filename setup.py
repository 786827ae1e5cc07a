"""Builds pyshim._core (Cython) and the preload library libpyshim_preload.so.

The preload library is built by build_ext like an extension, but under a
plain file name and without Python: it must load into any program.
"""
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from Cython.Build import cythonize

PRELOAD = "pyshim.libpyshim_preload"

SHIM_SOURCES = [
    "pyshim/shim/channel.c",
    "pyshim/shim/clone.c",
    "pyshim/shim/create.c",
    "pyshim/shim/direct.c",
    "pyshim/shim/dispatch.c",
    "pyshim/shim/exec.c",
    "pyshim/shim/hold.c",
    "pyshim/shim/init.c",
    "pyshim/shim/maps.c",
    "pyshim/shim/restart.c",
    "pyshim/shim/rewrite.c",
    "pyshim/shim/signals.c",
    "pyshim/shim/sigsys.c",
    "pyshim/shim/sigsysfd.c",
    "pyshim/shim/thread.c",
    "pyshim/shim/util.c",
    "pyshim/asm/trampoline.S",
    "pyshim/asm/clone.S",
    "pyshim/asm/arena.S",
    "pyshim/asm/sigsysfd.S",
    "pyshim/asm/direct.S",
]

# Code that runs inside the SIGSYS handler must not call into libc behind
# our back (gcc turns copy loops into memcpy calls) and must not depend on
# the stack protector's TLS canary (raw clones may share TLS).
SHIM_CFLAGS = [
    "-D_GNU_SOURCE", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror",
    "-fno-builtin", "-fno-tree-loop-distribute-patterns", "-fno-stack-protector",
    "-fvisibility=hidden", "-Wa,--noexecstack",
    # No vector or x87 register either: the direct entry (asm/direct.S)
    # runs this code between a program's registers and its return, and
    # saves only the general ones.
    "-mgeneral-regs-only",
]
# The loader maps the preload library in every new image, so its layout is
# paid on every exec: two LOAD segments (noseparate-code: the headers and
# read-only data share the code's pages) and no RELRO (no mprotect after
# relocation; the shim's GOT holds 10 entries) cost ~19 us less an exec
# here than the default four and RELRO (bench/bench_exec.py).  The shim is
# a checker, never a sandbox: a program that can write our GOT can do
# anything the shim could.
SHIM_LDFLAGS = ["-Wl,-z,now", "-Wl,-z,noexecstack", "-Wl,-z,noseparate-code",
                "-Wl,-z,norelro", "-Wl,--no-undefined"]


class BuildExt(build_ext):
    def build_extensions(self):
        if ".S" not in self.compiler.src_extensions:
            self.compiler.src_extensions.append(".S")
        super().build_extensions()

    def build_extension(self, ext):
        # Both extensions compile some of the same sources with different
        # flags: give each its own object directory.
        shared_temp = self.build_temp
        self.build_temp = os.path.join(shared_temp, ext.name)
        try:
            super().build_extension(ext)
        finally:
            self.build_temp = shared_temp

    def get_ext_filename(self, fullname):
        # Called with the dotted name or its last part, depending on the
        # caller: keep the package path and give the library a plain name.
        package, _, last = fullname.rpartition(".")
        if last == PRELOAD.rpartition(".")[2]:
            return "/".join(package.split(".") + [last + ".so"]) if package else last + ".so"
        return super().get_ext_filename(fullname)

    def get_libraries(self, ext):
        if ext.name == PRELOAD:
            return ["c"]  # libc only, never libpython
        return super().get_libraries(ext)


preload = Extension(
    PRELOAD,
    sources=SHIM_SOURCES,
    include_dirs=["ipc", "pyshim/shim"],
    extra_compile_args=SHIM_CFLAGS,
    extra_link_args=SHIM_LDFLAGS,
)

# _core links the same clone helpers and asm as the preload library (one
# copy of each), plus the probe its in-process clone tests drive.
CORE_C_SOURCES = [
    "pyshim/shim/clone.c",
    "pyshim/shim/util.c",
    "pyshim/asm/trampoline.S",
    "pyshim/asm/clone.S",
    "pyshim/core/clone_probe.c",
    "pyshim/core/guard.c",
    "pyshim/core/placement.c",
    "pyshim/core/probe.S",
]

core = cythonize(
    [Extension("pyshim._core", sources=["pyshim/_core.pyx"] + CORE_C_SOURCES,
               include_dirs=["ipc", "pyshim/shim", "pyshim/core"],
               extra_compile_args=["-D_GNU_SOURCE", "-fno-stack-protector",
                                   "-fno-omit-frame-pointer"],
               # Cython would import collections.abc at start-up to register
               # its coroutine types there (a millisecond); nothing needs it.
               define_macros=[("CYTHON_PATCH_ABC", "0")])],
    compiler_directives={"language_level": "3"},
)

# The ptrace path's calls to libc (ptrace, seccomp, process_vm_readv) and
# its spawn and waker, which run between fork and exec.
ptrace = Extension(
    "pyshim.ptrace._ptrace",
    sources=["pyshim/ptrace/_ptrace.c"],
    extra_compile_args=["-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                        "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
)

# `pyshim` is a plain script (scripts/pyshim): pip's entry-point wrapper
# would import re, enum and collections before every run.
setup(ext_modules=core + [preload, ptrace], cmdclass={"build_ext": BuildExt},
      scripts=["scripts/pyshim"])
