/* The fast path for calls nobody subscribed: rewriting a proven syscall
 * site of libc so that it runs its syscall natively without a trap.
 *
 * When an unsubscribed call traps, the shim looks at the two instructions
 * that made it.  If they are `mov $nr, %eax; syscall` (b8 imm32 0f 05) in
 * libc's code, with imm32 the call's own number, the 5-byte mov becomes
 * `call stub`, and the stub (asm/arena.S, inside the region dispatch never
 * traps) does `mov $nr, %eax; syscall` and goes on after the original
 * syscall, with rcx and r11 as the syscall leaves them natively.  The
 * original `syscall` stays in place, so a jump straight to it still traps:
 * the trap stays the catch-all.
 *
 * What makes it safe:
 * - Subscriptions are fixed for a run, so a rewritten site never carries a
 *   call someone subscribed; a new image starts with pristine code.  Calls
 *   the shim emulates or must see (clone, exec, exit, signal masks and
 *   handlers, masked waits, prctl, signalfd) are never rewritten.  Reads
 *   and polls become such calls when the process makes a signalfd holding
 *   SIGSYS (sigsysfd.c): their stubs then return to the site's syscall,
 *   which traps (shim_rewrite_undo).
 * - The 5 bytes lie inside one aligned 8-byte word, replaced by a single
 *   atomic store: a thread running the site sees the old mov or the new
 *   call, never half of each; a thread already past the mov runs the old
 *   syscall, which traps as before.  The stub is written before the site
 *   points at it.
 * - The `call` pushes below the stack pointer: libc's syscall functions
 *   keep nothing there (checked for glibc 2.36: only __longjmp_chk, whose
 *   sigaltstack is never rewritten, uses the red zone).  A signal during
 *   the syscall restarts it or returns EINTR inside the stub as anywhere,
 *   and each slot's unwind entry leads unwinders back into the site's
 *   function (cancellation, backtraces).
 * - With a shadow stack (CET) the stub's return would not match it: no
 *   rewriting then.
 *
 * $PYSHIM_NO_REWRITE=1 in the program's environment turns it off. */
#include <link.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "arena.h"
#include "shim.h"

extern char pyshim_arena[] SHIM_HIDDEN;
extern char pyshim_arena_end[] SHIM_HIDDEN;

#define SLOT PYSHIM_ARENA_SLOT
#define PAGE 4096UL

static struct {
    uintptr_t lo, hi;  /* libc's executable segment (0: rewriting is off) */
    uint32_t used;     /* arena slots written */
    int lock;
} rw;

/* Calls the shim emulates or must see at every call: never rewritten; in
 * the SIGSYS signalfd mode, nor the calls that may read or poll such a
 * signalfd (sigsysfd.c). */
static int rewritable(long nr)
{
    switch (nr) {
    case SYS_clone: case SYS_clone3: case SYS_fork: case SYS_vfork:
    case SYS_execve: case SYS_execveat: case SYS_exit: case SYS_exit_group:
    case SYS_rt_sigreturn: case SYS_rt_sigaction: case SYS_rt_sigprocmask:
    case SYS_sigaltstack: case SYS_rt_sigsuspend: case SYS_ppoll: case SYS_pselect6:
    case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_prctl:
    case SYS_rt_sigpending: case SYS_rt_sigtimedwait: case SYS_ptrace:
    case SYS_unshare: case SYS_setns: case SYS_signalfd: case SYS_signalfd4:
    case SYS_pause: /* a wait for SIGSYS, in the mode (sigsysfd.c) */
        return 0;
    case SYS_read: case SYS_readv: case SYS_preadv2: case SYS_poll: case SYS_select:
    case SYS_epoll_wait:
        return !__atomic_load_n(&shim_proc.sigsys_fd, __ATOMIC_ACQUIRE);
    }
    return 1;
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

#define ARCH_SHSTK_STATUS 0x5005
#define ARCH_SHSTK_SHSTK (1UL << 0)

void shim_rewrite_init(void)
{
    const char *off = getenv("PYSHIM_NO_REWRITE");
    if (off && off[0] && !(off[0] == '0' && !off[1]))
        return;
    unsigned long features = 0;
    if (RAW2(SYS_arch_prctl, ARCH_SHSTK_STATUS, &features) == 0 && (features & ARCH_SHSTK_SHSTK))
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

/* Writes the stub for `nr` into a fresh arena slot; NULL if full or
 * the arena cannot be made writable.  Contract: rw.lock is held. */
static char *write_stub(long nr)
{
    char *slot = pyshim_arena + (size_t)rw.used * SLOT;
    if (slot + SLOT > pyshim_arena_end || !unlock_text((uintptr_t)slot, SLOT, 1))
        return NULL;
    uint32_t imm = (uint32_t)nr;
    static const unsigned char tail[] = {
        0x0f, 0x05,             /* syscall */
        0x59,                   /* pop %rcx */
        0x48, 0x8d, 0x49, 0x02, /* lea 2(%rcx), %rcx */
        0xff, 0xe1,             /* jmp *%rcx */
    };
    _Static_assert(5 + sizeof tail <= SLOT, "a stub fits its slot");
    _Static_assert(5 + 2 + 1 == PYSHIM_ARENA_POPPED, "the unwind rule changes after the pop");
    slot[0] = (char)0xb8;       /* mov $nr, %eax */
    shim_memcpy(slot + 1, &imm, 4);
    shim_memcpy(slot + 5, tail, sizeof tail);
    unlock_text((uintptr_t)slot, SLOT, 0);
    rw.used++;
    return slot;
}

/* Whether `ip` follows a site this file can rewrite for `nr`: libc's
 * `mov $nr, %eax; syscall`, its mov inside one aligned 8-byte word.  Reads
 * only libc's code, so it may run before the lock (and runs again under
 * it: another thread may have rewritten the site meanwhile). */
static int rewritable_site(long nr, uintptr_t ip)
{
    uintptr_t site = ip - 7;
    if (site < rw.lo || ip > rw.hi)
        return 0;
    const unsigned char *code = (const unsigned char *)site;
    uint32_t imm;
    shim_memcpy(&imm, code + 1, 4);
    if (code[0] != 0xb8 || imm != (uint32_t)nr || code[5] != 0x0f || code[6] != 0x05)
        return 0; /* another shape, or already rewritten */
    return (site & ~(uintptr_t)7) == ((site + 4) & ~(uintptr_t)7);
}

/* Contract: `ip` is the address after a syscall that trapped with number
 * `nr`, which nobody subscribed and which execute() ran natively; signals
 * are blocked and rw.lock is held. */
static void rewrite_locked(long nr, uintptr_t ip)
{
    if (!rewritable(nr) || !rewritable_site(nr, ip))
        return; /* (the mode may have turned on since the first look) */
    uintptr_t site = ip - 7;
    uintptr_t word = site & ~(uintptr_t)7;
    uintptr_t slot = (uintptr_t)pyshim_arena + (uintptr_t)rw.used * SLOT;
    long rel = (long)slot - (long)(site + 5);
    if (rel != (int32_t)rel)
        return; /* the arena is out of a jump's reach */
    if (!write_stub(nr))
        return;
    uint64_t old, new;
    shim_memcpy(&old, (const void *)word, 8);
    new = old;
    unsigned char call[5] = {0xe8}; /* call rel32 */
    int32_t rel32 = (int32_t)rel;
    shim_memcpy(call + 1, &rel32, 4);
    shim_memcpy((char *)&new + (site - word), call, 5);
    if (!unlock_text(word, 8, 1))
        return; /* the stub stays unused */
    __atomic_compare_exchange_n((uint64_t *)word, &old, new, 0, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    unlock_text(word, 8, 0);
}

void shim_rewrite(long nr, uint64_t ip)
{
    /* Most traps come from sites already judged: decide before paying for
     * the signal mask and the lock. */
    if (!rw.lo || !rewritable(nr) || !rewritable_site(nr, (uintptr_t)ip))
        return;
    /* Another thread rewriting (often this very site, when many threads
     * start at once): skip, never wait.  The call has run; the site is
     * rewritten by that thread or at a later trap. */
    /* Every signal blocked, SIGSYS too (nothing here traps): no handler
     * of this thread can wait for the lock (shim_rewrite_undo does). */
    uint64_t all = ~0ull, old;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
    if (!__atomic_exchange_n(&rw.lock, 1, __ATOMIC_ACQUIRE)) {
        rewrite_locked(nr, (uintptr_t)ip);
        __atomic_store_n(&rw.lock, 0, __ATOMIC_RELEASE);
    }
    shim_unblock(&old);
}

/* A stub whose call must trap again gets `ret` (c3) in place of its
 * `syscall`: it returns to the site's own syscall instruction, with eax
 * already the call's number, and that one traps.  One byte, so a thread in
 * the stub sees the old instruction or the new one; a thread already in the
 * stub's syscall returns past it, as before.  Contract: every signal is
 * blocked (the caller waits for the lock). */
void shim_rewrite_undo(void)
{
    if (!rw.lo)
        return;
    while (__atomic_exchange_n(&rw.lock, 1, __ATOMIC_ACQUIRE))
        RAW0(SYS_sched_yield);
    for (uint32_t i = 0; i < rw.used; i++) {
        char *slot = pyshim_arena + (size_t)i * SLOT;
        uint32_t nr;
        shim_memcpy(&nr, slot + 1, 4);
        if (rewritable(nr) || slot[5] != 0x0f || !unlock_text((uintptr_t)slot, SLOT, 1))
            continue;
        __atomic_store_n(slot + 5, (char)0xc3, __ATOMIC_SEQ_CST);
        unlock_text((uintptr_t)slot, SLOT, 0);
    }
    __atomic_store_n(&rw.lock, 0, __ATOMIC_RELEASE);
}

/* In a new process: the thread that held the lock at the fork, if any, is
 * not in it. */
void shim_rewrite_after_fork(void)
{
    __atomic_store_n(&rw.lock, 0, __ATOMIC_RELEASE);
}
