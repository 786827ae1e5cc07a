/*
 * The shim's raw syscalls and freestanding helpers: what code that runs
 * inside the SIGSYS handler, or in a new thread before it is set up, may
 * call.  No allocation, no locks, no libc.  Linked into the preload library
 * and into pyshim._core (for the in-process clone tests).
 */
#ifndef PYSHIM_RAW_H
#define PYSHIM_RAW_H

#include <stddef.h>
#include <stdint.h>

#define SHIM_HIDDEN __attribute__((visibility("hidden")))

/* ---- raw syscalls (asm/trampoline.S) ---------------------------------- */
SHIM_HIDDEN long pyshim_raw_syscall(long nr, long a1, long a2, long a3,
                                    long a4, long a5, long a6);
SHIM_HIDDEN void pyshim_restorer(void);
SHIM_HIDDEN void pyshim_program_restorer(void);
SHIM_HIDDEN __attribute__((noreturn)) void pyshim_sigreturn_at(void *frame_uc);
/* Opens the signal mask to *program_mask, makes syscall `nr` with `args`
 * (a futex wait) and blocks every signal but SIGSYS again; returns the
 * wait's result.  A handler that interrupts the wait is reported through
 * `interrupted_by` by the shim's rt_sigreturn (see asm/trampoline.S).
 * Contract: called with signals blocked, from the SIGSYS handler; `args`
 * and `interrupted_by` point into the caller's frame on the shim altstack. */
SHIM_HIDDEN long pyshim_hold_wait(const uint64_t *program_mask, long nr, const long args[6],
                                  uint64_t *interrupted_by);
extern const char pyshim_hold_syscall[] SHIM_HIDDEN; /* the wait's syscall instruction */
extern const char pyshim_hold_resumed[] SHIM_HIDDEN; /* just after it */
extern const char __start_pyshim_text[] SHIM_HIDDEN;
extern const char __stop_pyshim_text[] SHIM_HIDDEN;

#define RAW0(nr) pyshim_raw_syscall((nr), 0, 0, 0, 0, 0, 0)
#define RAW1(nr, a) pyshim_raw_syscall((nr), (long)(a), 0, 0, 0, 0, 0)
#define RAW2(nr, a, b) pyshim_raw_syscall((nr), (long)(a), (long)(b), 0, 0, 0, 0)
#define RAW3(nr, a, b, c) \
    pyshim_raw_syscall((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define RAW4(nr, a, b, c, d) \
    pyshim_raw_syscall((nr), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define RAW6(nr, a, b, c, d, e, f)                                          \
    pyshim_raw_syscall((nr), (long)(a), (long)(b), (long)(c), (long)(d), \
                       (long)(e), (long)(f))

/* ---- util.c ------------------------------------------------------------ */
SHIM_HIDDEN size_t shim_strlen(const char *s);
SHIM_HIDDEN void shim_memcpy(void *dst, const void *src, size_t n);
SHIM_HIDDEN void shim_memset(void *dst, int c, size_t n);
SHIM_HIDDEN int shim_strncmp(const char *a, const char *b, size_t n);
/* Writes "pyshim: " + msg + "\n" to fd 2 in one write. */
SHIM_HIDDEN void shim_say(const char *msg);
/* Writes a message (unless NULL) and kills the whole process with SIGKILL. */
SHIM_HIDDEN __attribute__((noreturn)) void shim_die(const char *msg);
/* Copies n bytes from the program's (possibly invalid) address: 0 or -EFAULT. */
SHIM_HIDDEN long shim_copy_in(void *dst, const void *user_src, size_t n);
SHIM_HIDDEN long shim_copy_out(void *user_dst, const void *src, size_t n);
/* Copies up to n bytes from the program's address; returns how many could
 * be read (0 if none), stopping at the first unreadable page. */
SHIM_HIDDEN size_t shim_copy_in_partial(void *dst, const void *user_src, size_t n);
/* Copies n bytes from each of the program's addresses from[0..count) to
 * out + i * n, in one process_vm_readv (count <= SHIM_GATHER_MAX) of
 * process `pid` (the caller's own); returns how many leading entries were
 * copied whole (the kernel stops at the first byte it cannot read).
 * Contract: out holds count * n bytes; from's pointers are the shim's
 * copies (only what they point to is the program's). */
#define SHIM_GATHER_MAX 64
SHIM_HIDDEN size_t shim_gather_in(void *out, const void *const *from, size_t count, size_t n,
                                  long pid);
/* Writes the decimal form of v at p (no NUL); returns the digits written. */
SHIM_HIDDEN size_t shim_utoa(char *p, uint64_t v);

#endif /* PYSHIM_RAW_H */
