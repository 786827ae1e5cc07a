/* The fast path for calls nobody subscribed: rewriting a proven syscall
 * site of libc so that it runs its syscall natively without a trap.
 *
 * When an unsubscribed call traps, the shim looks at the two instructions
 * that made it.  If they are `mov $nr, %eax; syscall` (b8 imm32 0f 05) in
 * libc's code, with imm32 the call's own number, the 5-byte mov is
 * replaced by `jmp stub`, and the stub (in the arena, asm/arena.S, inside
 * the region dispatch never traps) does `mov $nr, %eax; syscall` and jumps
 * back after the original syscall.  The original `syscall` is left as it
 * was, so a jump straight to it still traps: the trap stays the catch-all.
 *
 * What makes it safe:
 * - Only calls in the allowlist below: they never block for long, are not
 *   cancellation points, send no signal to the caller and are not calls
 *   the shim emulates.  A signal that arrives during one is delivered on
 *   its return from the stub; restart and EINTR work there as anywhere.
 * - Subscriptions are fixed for a run, so a rewritten site never carries
 *   a call someone subscribed; a new image starts with pristine code.
 * - The 5 bytes lie inside one aligned 8-byte word, replaced by a single
 *   atomic store: a thread running the site sees the old mov or the new
 *   jmp, never half of each; a thread already past the mov runs the old
 *   syscall, which traps as before.
 * - The stub is written whole before the site points at it.
 *
 * $PYSHIM_NO_REWRITE=1 in the program's environment turns it off. */
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "shim.h"

extern char pyshim_arena[] SHIM_HIDDEN;
extern char pyshim_arena_end[] SHIM_HIDDEN;

#define SLOT 32
#define PAGE 4096UL

static struct {
    uintptr_t lo, hi;  /* libc's executable segment (0: rewriting is off) */
    uint32_t used;     /* arena slots written */
    int lock;
} rw;

/* Calls that never block for long, are no cancellation point, signal
 * nobody and are run natively by execute() as they are. */
static int rewritable(long nr, const long a[6])
{
    switch (nr) {
    case SYS_stat: case SYS_fstat: case SYS_lstat: case SYS_newfstatat: case SYS_statx:
    case SYS_lseek: case SYS_mmap: case SYS_mprotect: case SYS_munmap: case SYS_brk:
    case SYS_mremap: case SYS_madvise: case SYS_getdents64: case SYS_readlink:
    case SYS_readlinkat: case SYS_access: case SYS_faccessat: case SYS_faccessat2:
    case SYS_getcwd: case SYS_getpid: case SYS_getppid: case SYS_gettid: case SYS_getuid:
    case SYS_geteuid: case SYS_getgid: case SYS_getegid: case SYS_getresuid:
    case SYS_getresgid: case SYS_getgroups: case SYS_umask: case SYS_uname:
    case SYS_sysinfo: case SYS_prlimit64: case SYS_getrlimit: case SYS_getxattr:
    case SYS_lgetxattr: case SYS_fgetxattr: case SYS_listxattr: case SYS_llistxattr:
    case SYS_flistxattr: case SYS_fadvise64: case SYS_sched_getaffinity:
    case SYS_getrusage: case SYS_times: case SYS_clock_getres: case SYS_clock_gettime:
    case SYS_gettimeofday: case SYS_time: case SYS_getpgrp: case SYS_getpgid:
    case SYS_getsid: case SYS_getpriority: case SYS_dup: case SYS_dup2: case SYS_dup3:
    case SYS_pipe2: case SYS_sched_yield: case SYS_getcpu:
        return 1;
    case SYS_fcntl: /* the lock waits are cancellation points; the rest not */
        return a[1] != F_SETLKW && a[1] != F_OFD_SETLKW;
    }
    return 0;
}

static int find_libc(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    const char *name = info->dlpi_name;
    size_t n = 0;
    while (name && name[n])
        n++;
    static const char libc[] = "/libc.so.6";
    if (n < sizeof libc - 1 || shim_strncmp(name + n - (sizeof libc - 1), libc, sizeof libc - 1))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && !(ph->p_flags & PF_W)) {
            rw.lo = info->dlpi_addr + ph->p_vaddr;
            rw.hi = rw.lo + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

void shim_rewrite_init(void)
{
    const char *off = getenv("PYSHIM_NO_REWRITE");
    if (off && off[0] && !(off[0] == '0' && !off[1]))
        return;
    dl_iterate_phdr(find_libc, NULL);
}

/* Makes [addr, addr+len) writable (keeping it executable), or back. */
static int unlock_text(uintptr_t addr, size_t len, int writable)
{
    uintptr_t page = addr & ~(PAGE - 1);
    long prot = PROT_READ | PROT_EXEC | (writable ? PROT_WRITE : 0);
    return RAW3(SYS_mprotect, page, ((addr + len + PAGE - 1) & ~(PAGE - 1)) - page, prot) == 0;
}

/* Writes the stub for (nr, back) into a fresh arena slot; NULL if full or
 * the arena cannot be made writable.  Contract: rw.lock is held. */
static char *write_stub(long nr, uintptr_t back)
{
    char *slot = pyshim_arena + (size_t)rw.used * SLOT;
    if (slot + SLOT > pyshim_arena_end || !unlock_text((uintptr_t)slot, SLOT, 1))
        return NULL;
    uint32_t imm = (uint32_t)nr;
    slot[0] = (char)0xb8;                             /* mov $nr, %eax */
    shim_memcpy(slot + 1, &imm, 4);
    slot[5] = 0x0f;                                   /* syscall */
    slot[6] = 0x05;
    slot[7] = (char)0xff;                             /* jmp *0(%rip) */
    slot[8] = 0x25;
    shim_memset(slot + 9, 0, 4);
    shim_memcpy(slot + 13, &back, 8);                 /* ... to here */
    unlock_text((uintptr_t)slot, SLOT, 0);
    rw.used++;
    return slot;
}

/* Contract: `ip` is the address after a syscall that trapped with number
 * `nr`, which nobody subscribed and which execute() ran natively; signals
 * are blocked (the lock is not reentrant). */
static void rewrite_locked(long nr, uintptr_t ip)
{
    uintptr_t site = ip - 7;
    if (site < rw.lo || ip > rw.hi)
        return;
    const unsigned char *code = (const unsigned char *)site;
    uint32_t imm;
    shim_memcpy(&imm, code + 1, 4);
    if (code[0] != 0xb8 || imm != (uint32_t)nr || code[5] != 0x0f || code[6] != 0x05)
        return; /* another shape, or already rewritten */
    uintptr_t word = site & ~(uintptr_t)7;
    if (site + 5 > word + 8)
        return; /* the mov straddles two words: no single store replaces it */
    uintptr_t slot = (uintptr_t)pyshim_arena + (uintptr_t)rw.used * SLOT;
    long rel = (long)slot - (long)(site + 5);
    if (rel != (int32_t)rel)
        return; /* the arena is out of a jump's reach */
    if (!write_stub(nr, ip))
        return;
    uint64_t old, new;
    shim_memcpy(&old, (const void *)word, 8);
    new = old;
    unsigned char jmp[5] = {0xe9};
    int32_t rel32 = (int32_t)rel;
    shim_memcpy(jmp + 1, &rel32, 4);
    shim_memcpy((char *)&new + (site - word), jmp, 5);
    if (!unlock_text(word, 8, 1))
        return; /* the stub stays unused */
    __atomic_compare_exchange_n((uint64_t *)word, &old, new, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    unlock_text(word, 8, 0);
}

void shim_rewrite(long nr, const long a[6], uint64_t ip)
{
    if (!rw.lo || !rewritable(nr, a))
        return;
    uint64_t old;
    shim_block_signals(&old);
    while (__atomic_exchange_n(&rw.lock, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
    rewrite_locked(nr, (uintptr_t)ip);
    __atomic_store_n(&rw.lock, 0, __ATOMIC_RELEASE);
    shim_unblock(&old);
}

/* In a new process: the thread that held the lock at the fork, if any, is
 * not in it. */
void shim_rewrite_after_fork(void)
{
    __atomic_store_n(&rw.lock, 0, __ATOMIC_RELEASE);
}
