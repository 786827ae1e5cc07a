"""pyshim's own errors.  Each carries the exit status the command line uses,
following the convention of env(1) and timeout(1): 127 the program was not
found, 126 it cannot be run (under supervision), 125 pyshim itself failed."""


class PyshimError(Exception):
    exit_status = 125


class ProgramNotFound(PyshimError):
    exit_status = 127


class CannotSupervise(PyshimError):
    """The program exists but pyshim cannot supervise it (static, not x86-64)."""

    exit_status = 126


class StaticProgram(CannotSupervise):
    """The program is statically linked: LD_PRELOAD cannot reach it (a
    Supervisor runs it under ptrace instead)."""


class UnsupportedKernel(PyshimError):
    pass


class UsageError(Exception):
    """A flag's value pyshim cannot take: one line, exit status 2."""
