/* pyshim.ptrace._ptrace: the libc calls the ptrace path needs and Python's
 * os module lacks (ptrace, prctl, seccomp, process_vm_readv), the spawn of
 * a program that starts traced under a seccomp filter, and the waker.
 *
 * Every ptrace request here is made by the calling thread: the Python side
 * calls these functions from the one thread that serves a run (the tracer).
 * Requests on a tracee that is gone return -ESRCH instead of raising, since
 * tracees die at any time (the loop learns of it from its next wait).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_LISTEN
#define PTRACE_LISTEN 0x4208
#endif

/* Where spawn's child failed, as it reports it on its error pipe. */
enum { STAGE_FDS = 1, STAGE_NO_NEW_PRIVS = 2, STAGE_SECCOMP = 3, STAGE_EXEC = 4 };

static void child_fail(int errfd, int stage)
{
    int msg[2] = {stage, errno};
    ssize_t r = write(errfd, msg, sizeof msg);
    (void)r;
    _exit(127);
}

/* The child between fork and exec: async-signal-safe calls only (the
 * supervisor may have other threads). */
static void child(const char *path, char *const argv[], char *const envp[], const int fds[3],
                  struct sock_fprog *prog, int gofd, int errfd)
{
    /* Handlers of the supervisor's must not run here, nor in the program:
     * every handled signal back to its default (ignored ones stay ignored,
     * as across exec), and SIGPIPE, SIGXFSZ, SIGINT to their defaults, as
     * Supervisor._spawn does.  All signals are blocked until the exec. */
    for (int sig = 1; sig < _NSIG; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) != 0)
            continue;
        if (sa.sa_handler != SIG_DFL && (sa.sa_handler != SIG_IGN || sig == SIGPIPE ||
                                         sig == SIGXFSZ || sig == SIGINT)) {
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = SIG_DFL;
            sigaction(sig, &sa, NULL);
        }
    }
    for (int target = 0; target < 3; target++) {
        int fd = fds[target];
        if (fd == -2)
            continue;  /* inherited */
        if (fd == -1) {
            fd = open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
            if (fd < 0)
                child_fail(errfd, STAGE_FDS);
        }
        if (fd == target) {
            int flags = fcntl(fd, F_GETFD);
            if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
                child_fail(errfd, STAGE_FDS);
        } else if (dup2(fd, target) < 0) {
            child_fail(errfd, STAGE_FDS);
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        child_fail(errfd, STAGE_NO_NEW_PRIVS);
    /* Wait until the supervisor has seized this process: a filter that
     * returns SECCOMP_RET_TRACE with no tracer fails calls with ENOSYS. */
    char go;
    while (read(gofd, &go, 1) < 0 && errno == EINTR)
        ;
    /* The filter is no sandbox: it asks for no speculation mitigations
     * (SSBD, STIBP), which slow a whole process down on some CPUs. */
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, prog) != 0 &&
        (errno != EINVAL || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) != 0))
        child_fail(errfd, STAGE_SECCOMP);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
    child_fail(errfd, STAGE_EXEC);
}

static char **byte_strings(PyObject *seq, PyObject **keep)
{
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of bytes");
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    char **out = PyMem_Calloc(n + 1, sizeof(char *));
    if (!out) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "expected bytes");
            PyMem_Free(out);
            Py_DECREF(fast);
            return NULL;
        }
        out[i] = PyBytes_AS_STRING(item);  /* kept alive by `fast` */
    }
    *keep = fast;
    return out;
}

/* spawn(path, argv, envp, (stdin, stdout, stderr), filter, options)
 *   -> (pid, errfd)
 * Forks a child that sets up its descriptors (-2 inherited, -1 /dev/null,
 * else dup2'd), sets PR_SET_NO_NEW_PRIVS, waits until this thread has
 * seized it with `options`, installs the seccomp filter (struct
 * sock_filter[] in `filter`) and execs.  errfd reads (stage, errno) if it
 * failed before its exec, EOF once the exec succeeded.  A refused
 * PTRACE_SEIZE raises OSError (the child is killed and reaped). */
static PyObject *py_spawn(PyObject *self, PyObject *args)
{
    const char *path;
    PyObject *argv_obj, *envp_obj;
    int fds[3];
    Py_buffer filter;
    unsigned long options;
    if (!PyArg_ParseTuple(args, "yOO(iii)y*k", &path, &argv_obj, &envp_obj, &fds[0], &fds[1],
                          &fds[2], &filter, &options))
        return NULL;
    PyObject *keep_argv = NULL, *keep_envp = NULL, *result = NULL;
    char **argv = NULL, **envp = NULL;
    int go[2] = {-1, -1}, err[2] = {-1, -1};
    if (filter.len % sizeof(struct sock_filter) || filter.len == 0 ||
        filter.len / sizeof(struct sock_filter) > USHRT_MAX) {
        PyErr_SetString(PyExc_ValueError, "a filter is a whole number of sock_filter");
        goto out;
    }
    argv = byte_strings(argv_obj, &keep_argv);
    if (!argv)
        goto out;
    envp = byte_strings(envp_obj, &keep_envp);
    if (!envp)
        goto out;
    if (pipe2(go, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto out;
    }
    struct sock_fprog prog = {
        .len = (unsigned short)(filter.len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)filter.buf,
    };
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t pid = fork();
    if (pid == 0) {
        close(go[1]);
        close(err[0]);
        child(path, argv, envp, fds, &prog, go[0], err[1]);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    close(go[0]);
    go[0] = -1;
    close(err[1]);
    err[1] = -1;
    if (pid < 0) {
        errno = fork_errno;
        PyErr_SetFromErrno(PyExc_OSError);
        goto out;
    }
    if (ptrace(PTRACE_SEIZE, pid, 0, (void *)options) != 0) {
        int e = errno;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
            ;
        errno = e;
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, "PTRACE_SEIZE");
        goto out;
    }
    close(go[1]);  /* seized: the child goes on */
    go[1] = -1;
    result = Py_BuildValue("(ii)", (int)pid, err[0]);
    if (result)
        err[0] = -1;
out:
    for (int i = 0; i < 2; i++) {
        if (go[i] >= 0)
            close(go[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    PyMem_Free(argv);
    PyMem_Free(envp);
    Py_XDECREF(keep_argv);
    Py_XDECREF(keep_envp);
    PyBuffer_Release(&filter);
    return result;
}

/* seize(tid, options) -> 0 or -errno: PTRACE_SEIZE of a running thread
 * (one of a supervised process's, about to exec a static program). */
static PyObject *py_seize(PyObject *self, PyObject *args)
{
    int tid;
    unsigned long options;
    if (!PyArg_ParseTuple(args, "ik", &tid, &options))
        return NULL;
    long r = ptrace(PTRACE_SEIZE, tid, 0, (void *)options);
    return PyLong_FromLong(r == 0 ? 0 : -errno);
}

/* resume(request, tid, sig) -> 0 or -errno: PTRACE_CONT, PTRACE_SYSCALL,
 * PTRACE_LISTEN or PTRACE_SINGLESTEP. */
static PyObject *py_resume(PyObject *self, PyObject *args)
{
    int request, tid, sig;
    if (!PyArg_ParseTuple(args, "iii", &request, &tid, &sig))
        return NULL;
    long r = ptrace(request, tid, 0, (void *)(long)sig);
    return PyLong_FromLong(r == 0 ? 0 : -errno);
}

/* stop_regs(tid) -> (orig_rax, rdi, rsi, rdx, r10, r8, r9, rip, rax, rsp),
 * or None if the tracee is gone. */
static PyObject *py_regs(PyObject *self, PyObject *arg)
{
    int tid = (int)PyLong_AsLong(arg);
    if (tid == -1 && PyErr_Occurred())
        return NULL;
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, tid, 0, &r) != 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(LKKKKKKKLK)", (long long)r.orig_rax, (unsigned long long)r.rdi,
                         (unsigned long long)r.rsi, (unsigned long long)r.rdx,
                         (unsigned long long)r.r10, (unsigned long long)r.r8,
                         (unsigned long long)r.r9, (unsigned long long)r.rip,
                         (long long)r.rax, (unsigned long long)r.rsp);
}

/* result(tid) -> rax as a signed long, or None if the tracee is gone. */
static PyObject *py_result(PyObject *self, PyObject *arg)
{
    int tid = (int)PyLong_AsLong(arg);
    if (tid == -1 && PyErr_Occurred())
        return NULL;
    errno = 0;
    long v = ptrace(PTRACE_PEEKUSER, tid, offsetof(struct user_regs_struct, rax), 0);
    if (v == -1 && errno)
        Py_RETURN_NONE;
    return PyLong_FromLong(v);
}

/* set_result(tid, value) -> 0 or -errno: rax (at a syscall-exit-stop). */
static PyObject *py_set_result(PyObject *self, PyObject *args)
{
    int tid;
    long long value;
    if (!PyArg_ParseTuple(args, "iL", &tid, &value))
        return NULL;
    long r = ptrace(PTRACE_POKEUSER, tid, offsetof(struct user_regs_struct, rax), (void *)value);
    return PyLong_FromLong(r == 0 ? 0 : -errno);
}

/* skip(tid, value) -> 0 or -errno: at a seccomp stop, the call is not
 * made and returns `value` (seccomp(2): the tracer sets the syscall number
 * to -1 and the return value register). */
static PyObject *py_skip(PyObject *self, PyObject *args)
{
    int tid;
    long long value;
    if (!PyArg_ParseTuple(args, "iL", &tid, &value))
        return NULL;
    if (ptrace(PTRACE_POKEUSER, tid, offsetof(struct user_regs_struct, orig_rax), (void *)-1L) ||
        ptrace(PTRACE_POKEUSER, tid, offsetof(struct user_regs_struct, rax), (void *)value))
        return PyLong_FromLong(-errno);
    return PyLong_FromLong(0);
}

/* event_msg(tid) -> PTRACE_GETEVENTMSG's value, or None if gone. */
static PyObject *py_event_msg(PyObject *self, PyObject *arg)
{
    int tid = (int)PyLong_AsLong(arg);
    if (tid == -1 && PyErr_Occurred())
        return NULL;
    unsigned long msg = 0;
    if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) != 0)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(msg);
}

/* sig_code(tid) -> (si_signo, si_code) of the stop, or None if gone. */
static PyObject *py_sig_code(PyObject *self, PyObject *arg)
{
    int tid = (int)PyLong_AsLong(arg);
    if (tid == -1 && PyErr_Occurred())
        return NULL;
    siginfo_t si;
    if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) != 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(ii)", si.si_signo, si.si_code);
}

/* vm_read(pid, addr, n) -> bytes (fewer than n if the rest is unmapped);
 * OSError if nothing is readable. */
static PyObject *py_vm_read(PyObject *self, PyObject *args)
{
    int pid;
    unsigned long long addr;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "iKn", &pid, &addr, &n))
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "negative size");
        return NULL;
    }
    PyObject *buf = PyBytes_FromStringAndSize(NULL, n);
    if (!buf || n == 0)
        return buf;
    struct iovec local = {PyBytes_AS_STRING(buf), (size_t)n};
    struct iovec remote = {(void *)(uintptr_t)addr, (size_t)n};
    ssize_t got;
    Py_BEGIN_ALLOW_THREADS
    got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    Py_END_ALLOW_THREADS
    if (got < 0) {
        int e = errno;
        Py_DECREF(buf);
        char where[64];
        snprintf(where, sizeof where, "pid %d address %#llx", pid, addr);
        PyObject *exc = PyObject_CallFunction(PyExc_OSError, "iss", e, strerror(e), where);
        if (exc) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    if (got < n)
        _PyBytes_Resize(&buf, got);
    return buf;
}

/* vm_write(pid, addr, data) -> bytes written (-errno on failure). */
static PyObject *py_vm_write(PyObject *self, PyObject *args)
{
    int pid;
    unsigned long long addr;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "iKy*", &pid, &addr, &data))
        return NULL;
    struct iovec local = {data.buf, (size_t)data.len};
    struct iovec remote = {(void *)(uintptr_t)addr, (size_t)data.len};
    ssize_t put;
    Py_BEGIN_ALLOW_THREADS
    put = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    Py_END_ALLOW_THREADS
    int e = errno;
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(put < 0 ? -e : put);
}

/* The waker: a child of the serving thread that turns "wake up" and "wake
 * at time T" into a stop its parent's wait reports.  It reads int64
 * messages: 0 wakes now, > 0 is a CLOCK_MONOTONIC deadline in ns, < 0
 * clears the deadline; it stops itself (SIGSTOP) to wake, and exits at
 * EOF.  It ignores every signal a terminal or a program could send it. */
static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void waker(int rfd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(0);
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCONT)
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigaction(sig, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Nothing of the supervisor's stays open here but the pipe. */
    if (rfd != 3) {
        if (dup2(rfd, 3) < 0)
            _exit(1);
        rfd = 3;
    }
    syscall(SYS_close_range, 0, 2, 0);
    syscall(SYS_close_range, 4, ~0U, 0);
    int64_t deadline = -1;
    int wake = 0;
    for (;;) {
        struct timespec ts, *tsp = NULL;
        if (deadline >= 0) {
            int64_t left = deadline - now_ns();
            if (left <= 0) {
                wake = 1;
            } else {
                ts.tv_sec = left / 1000000000;
                ts.tv_nsec = left % 1000000000;
                tsp = &ts;
            }
        }
        if (wake) {
            wake = 0;
            deadline = -1;
            kill(getpid(), SIGSTOP);
            continue;
        }
        struct pollfd p = {.fd = rfd, .events = POLLIN};
        if (ppoll(&p, 1, tsp, NULL) <= 0)
            continue;
        int64_t msgs[64];
        ssize_t n = read(rfd, msgs, sizeof msgs);
        if (n == 0)
            _exit(0);
        for (ssize_t i = 0; i < n / (ssize_t)sizeof(int64_t); i++) {
            if (msgs[i] == 0)
                wake = 1;
            else
                deadline = msgs[i] > 0 ? msgs[i] : -1;
        }
    }
}

/* start_waker() -> (pid, wfd): wfd is non-blocking (a full pipe already
 * holds a wake-up). */
static PyObject *py_start_waker(PyObject *self, PyObject *unused)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    pid_t parent = getpid();
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        waker(p[0], parent);
        _exit(0);
    }
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    close(p[0]);
    if (pid < 0) {
        close(p[1]);
        errno = e;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    return Py_BuildValue("(ii)", (int)pid, p[1]);
}

/* now_ns() -> CLOCK_MONOTONIC in ns, the waker's clock. */
static PyObject *py_now_ns(PyObject *self, PyObject *unused)
{
    return PyLong_FromLongLong(now_ns());
}

static PyMethodDef methods[] = {
    {"spawn", py_spawn, METH_VARARGS, "Fork, seize, filter and exec a program."},
    {"seize", py_seize, METH_VARARGS, "seize(tid, options) -> 0 or -errno"},
    {"resume", py_resume, METH_VARARGS, "resume(request, tid, sig) -> 0 or -errno"},
    {"stop_regs", py_regs, METH_O, "The registers of a stopped tracee, or None."},
    {"result", py_result, METH_O, "rax of a stopped tracee, or None."},
    {"set_result", py_set_result, METH_VARARGS, "set_result(tid, value) -> 0 or -errno"},
    {"skip", py_skip, METH_VARARGS, "skip(tid, value) -> 0 or -errno"},
    {"event_msg", py_event_msg, METH_O, "PTRACE_GETEVENTMSG, or None."},
    {"sig_code", py_sig_code, METH_O, "(si_signo, si_code) of the stop, or None."},
    {"vm_read", py_vm_read, METH_VARARGS, "vm_read(pid, addr, n) -> bytes"},
    {"vm_write", py_vm_write, METH_VARARGS, "vm_write(pid, addr, data) -> n or -errno"},
    {"start_waker", py_start_waker, METH_NOARGS, "start_waker() -> (pid, wfd)"},
    {"now_ns", py_now_ns, METH_NOARGS, "CLOCK_MONOTONIC, ns"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "pyshim.ptrace._ptrace",
    "ptrace, seccomp and process_vm calls for pyshim's ptrace path.", -1, methods,
};

PyMODINIT_FUNC PyInit__ptrace(void)
{
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
#define CONST(name, value) \
    if (PyModule_AddIntConstant(m, name, value) != 0) { Py_DECREF(m); return NULL; }
    CONST("PTRACE_CONT", PTRACE_CONT);
    CONST("PTRACE_SYSCALL", PTRACE_SYSCALL);
    CONST("PTRACE_LISTEN", PTRACE_LISTEN);
    CONST("PTRACE_SINGLESTEP", PTRACE_SINGLESTEP);
    CONST("STAGE_FDS", STAGE_FDS);
    CONST("STAGE_NO_NEW_PRIVS", STAGE_NO_NEW_PRIVS);
    CONST("STAGE_SECCOMP", STAGE_SECCOMP);
    CONST("STAGE_EXEC", STAGE_EXEC);
    return m;
}
