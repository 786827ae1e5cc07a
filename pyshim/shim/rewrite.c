/* No trap at proven syscall sites of libc: a site is rewritten so that it
 * runs its syscall natively (nobody subscribed it) or enters the shim
 * without the SIGSYS (the direct entry, direct.c).
 *
 * When an unsubscribed call traps for the second time at the same site
 * (trapped_before: a call made once is not worth a rewrite), the shim
 * looks at the two instructions that made it.  If they are `mov $nr, %eax; syscall` (b8 imm32 0f 05) in
 * libc's code, with imm32 the call's own number, the 5-byte mov becomes
 * `call stub`, and the stub (asm/arena.S, inside the region dispatch never
 * traps) does `mov $nr, %eax; syscall` and goes on after the original
 * syscall, with rcx and r11 as the syscall leaves them natively.  The
 * original `syscall` stays in place, so a jump straight to it still traps:
 * the trap stays the catch-all.
 *
 * What makes it safe:
 * - Subscriptions are fixed for a run, so a site rewritten to run its call
 *   natively never carries a call someone subscribed; a new image starts
 *   with pristine code.  Calls the shim emulates or must see (clone, exec,
 *   exit, masked waits, prctl, signalfd) are never rewritten.  Subscribed
 *   calls, and signal masks and handlers subscribed or not, get a stub of
 *   another kind, `mov $nr, %eax; jmp pyshim_direct`: the direct entry
 *   (direct.c) runs the SIGSYS handler's path without the signal
 *   (rewrite_kind).  Reads
 *   and polls become calls that must trap when the process makes a
 *   signalfd holding SIGSYS (sigsysfd.c): their stubs then return to the
 *   site's syscall, which traps (shim_rewrite_undo).
 * - When the bytes that change lie inside one aligned 8-byte word (the mov
 *   does, or it straddles two words and the second keeps its bytes because
 *   rel32's high bytes equal imm32's), one atomic store replaces them: a
 *   thread running the site sees the old mov or the new call, never half of
 *   each; a thread already past the mov runs the old syscall, which traps
 *   as before.  The stub is written before the site points at it.
 * - A mov that straddles two words that both change takes two stores, the
 *   second word first.  In between, a thread may run `b8` and the old low
 *   bytes of imm32 from the first word with the new high bytes of rel32
 *   from the second: `mov $MIXED, %eax`, then the site's own `syscall`,
 *   which traps at the site's end with MIXED, a number known when the site
 *   is planned.  A table of such sites (shim_straddle_nr), published before
 *   the first store, lets the SIGSYS handler take that trap for the site's
 *   own number; only the exact (address, MIXED) pair is corrected, so a
 *   jump straight to the syscall with anything else in eax is untouched.
 *   Entries are never removed: a thread may have run the MIXED mov and be
 *   preempted before its syscall for any time.  x86 lets another core run
 *   stale bytes of modified code until it serializes its instruction
 *   stream, so between the stores membarrier(PRIVATE_EXPEDITED_SYNC_CORE)
 *   serializes every core running this mm (vfork children too; a core that
 *   switches to the mm later serializes on the way): after it, no thread
 *   can combine the new first word with the old second, the one mix that
 *   would run garbage.  Without membarrier, or with the table full, such
 *   sites keep their trap.  So do they from the moment a thread of the
 *   process stops trapping (PTRACE_TRACEME, after any two-store rewrite in
 *   progress): that thread would run MIXED natively.
 * - The `call` pushes below the stack pointer, and the direct entry saves
 *   the registers there (112 bytes in all): libc's syscall functions keep
 *   nothing there (checked for glibc 2.36: only __longjmp_chk, whose
 *   sigaltstack is never rewritten, uses the red zone; none of the 16 sites
 *   of rt_sigprocmask and rt_sigaction reads or writes below rsp).  A signal during
 *   the syscall restarts it or returns EINTR inside the stub as anywhere,
 *   and each slot's unwind entry leads unwinders back into the site's
 *   function (cancellation, backtraces).
 * - With a shadow stack (CET) the stub's return would not match it: no
 *   rewriting then.
 *
 * $PYSHIM_NO_REWRITE=1 in the program's environment turns it off.
 * $PYSHIM_TEST_LINGER=1, for tests only, makes every two-store rewrite wait
 * in its intermediate state until another thread trapped there (or for
 * LINGER_NS), so that they can see that path taken. */
#include <errno.h>
#include <link.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "arena.h"
#include "shim.h"

extern char pyshim_arena[] SHIM_HIDDEN;
extern char pyshim_arena_end[] SHIM_HIDDEN;
extern char pyshim_direct[] SHIM_HIDDEN;

#define SLOT PYSHIM_ARENA_SLOT
#define PAGE 4096UL
#define WORD 8UL       /* the unit of an atomic store to code */
#define MOV_LEN 5      /* b8 imm32, and e8 rel32 in its place */
#define SITE_LEN 7     /* the mov and its syscall (0f 05): a trap's ip is site + 7 */
#define STRADDLES 256  /* two-store rewrites per process */
#define LINGER_NS 200000000L

static struct {
    uintptr_t lo, hi;  /* libc's executable segment (0: rewriting is off) */
    uint32_t used;     /* arena slots written */
    int lock;
    int serialize;     /* two-store rewrites: 0 not tried yet, 1 on (membarrier
                        * registered), -1 off for good */
    int linger;        /* $PYSHIM_TEST_LINGER */
    uint32_t corrected; /* traps in an intermediate state, corrected */
} rw;

/* The sites rewritten with two stores: where their intermediate state
 * traps, with which number, and the site's own.  Entries [0, shim_straddles)
 * are complete (published with release); they are never removed. */
static struct {
    uintptr_t trap;  /* site + SITE_LEN */
    uint32_t mixed;  /* eax after the intermediate `mov $MIXED, %eax` */
    uint32_t nr;
} straddle[STRADDLES];
uint32_t shim_straddles;

/* Calls the shim emulates or must see at every call: never rewritten
 * (signal masks and handlers get a stub to the direct entry, rewrite_kind);
 * in the SIGSYS signalfd mode, nor the calls that may read or poll such a
 * signalfd (sigsysfd.c). */
static int rewritable(long nr)
{
    switch (nr) {
    case SYS_clone: case SYS_clone3: case SYS_fork: case SYS_vfork:
    case SYS_execve: case SYS_execveat: case SYS_exit: case SYS_exit_group:
    case SYS_rt_sigreturn: case SYS_rt_sigaction: case SYS_rt_sigprocmask:
    case SYS_sigaltstack: case SYS_rt_sigsuspend: case SYS_ppoll: case SYS_pselect6:
    case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_prctl: case SYS_seccomp:
    case SYS_rt_sigpending: case SYS_rt_sigtimedwait: case SYS_ptrace:
    case SYS_unshare: case SYS_setns: case SYS_signalfd: case SYS_signalfd4:
    case SYS_pause: /* a wait for SIGSYS, in the mode (sigsysfd.c) */
    case SYS_nanosleep: case SYS_clock_nanosleep: /* resumed with the time left:
                                                   * native() gives them a rem */
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

/* Whether environment variable `name` is set, non-empty and not "0".
 * Contract: in the constructor (getenv). */
static int env_on(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] && !(v[0] == '0' && !v[1]);
}

void shim_rewrite_init(void)
{
    if (env_on("PYSHIM_NO_REWRITE"))
        return;
    rw.linger = env_on("PYSHIM_TEST_LINGER");
    if (env_on("PYSHIM_NO_DIRECT"))
        shim_direct_off(); /* no direct-entry stubs */
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

/* Replaces the aligned word at `addr` by `new` if it still holds `old`, in
 * one atomic store; whether it did.  Contract: the word is writable. */
static int swap_word(uintptr_t addr, uint64_t old, uint64_t new)
{
    return __atomic_compare_exchange_n((uint64_t *)addr, &old, new, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

/* The next arena slot, where write_stub will write. */
static uintptr_t next_slot(void)
{
    return (uintptr_t)pyshim_arena + (uintptr_t)rw.used * SLOT;
}

enum { KIND_NONE, KIND_NATIVE, KIND_DIRECT };

/* How the site of a call `nr` may be rewritten: not at all, to run it
 * natively (nobody subscribed it), or to enter the shim directly
 * (direct.c): a subscribed call that could otherwise run natively, and the
 * signal masks and handlers, which the shim emulates. */
static int rewrite_kind(long nr)
{
    int direct = !__atomic_load_n(&pyshim_direct_off, __ATOMIC_ACQUIRE);
    if (nr == SYS_rt_sigprocmask || nr == SYS_rt_sigaction)
        return direct ? KIND_DIRECT : KIND_NONE;
    if (!rewritable(nr))
        return KIND_NONE;
    if (!shim_subscribed(nr))
        return KIND_NATIVE;
    return direct ? KIND_DIRECT : KIND_NONE;
}

/* Writes the stub of `kind` for `nr` into a fresh arena slot: `mov $nr,
 * %eax`, then for KIND_NATIVE the syscall and the return past the site's
 * (asm/arena.S), for KIND_DIRECT `jmp pyshim_direct` (asm/direct.S).
 * NULL if full or the arena cannot be made writable.  Contract: rw.lock
 * is held. */
static char *write_stub(long nr, int kind)
{
    char *slot = (char *)next_slot();
    if (slot + SLOT > pyshim_arena_end || !unlock_text((uintptr_t)slot, SLOT, 1))
        return NULL;
    uint32_t imm = (uint32_t)nr;
    slot[0] = (char)0xb8;       /* mov $nr, %eax */
    shim_memcpy(slot + 1, &imm, 4);
    if (kind == KIND_DIRECT) {
        int32_t rel = (int32_t)((long)pyshim_direct - (long)(slot + MOV_LEN + 5));
        _Static_assert(MOV_LEN + 5 <= SLOT, "a direct stub fits its slot");
        _Static_assert(MOV_LEN < PYSHIM_ARENA_POPPED,
                       "its jmp is under the slot's first unwind rule");
        slot[MOV_LEN] = (char)0xe9; /* jmp rel32 */
        shim_memcpy(slot + MOV_LEN + 1, &rel, 4);
    } else {
        static const unsigned char tail[] = {
            0x0f, 0x05,             /* syscall */
            0x59,                   /* pop %rcx */
            0x48, 0x8d, 0x49, 0x02, /* lea 2(%rcx), %rcx */
            0xff, 0xe1,             /* jmp *%rcx */
        };
        _Static_assert(MOV_LEN + sizeof tail <= SLOT, "a stub fits its slot");
        _Static_assert(MOV_LEN + 2 + 1 == PYSHIM_ARENA_POPPED,
                       "the unwind rule changes after the pop");
        _Static_assert(SITE_LEN == MOV_LEN + 2,
                       "the stub returns past the site's 2-byte syscall");
        shim_memcpy(slot + MOV_LEN, tail, sizeof tail);
    }
    unlock_text((uintptr_t)slot, SLOT, 0);
    rw.used++;
    return slot;
}

/* A site's rewrite, planned from its bytes: the aligned words its mov lies
 * in, before and after, and how many stores make the change. */
struct plan {
    uintptr_t site;    /* the mov */
    uintptr_t word;    /* the aligned word the mov starts in */
    int words;         /* 1, or 2 when the mov straddles into word + WORD */
    int stores;        /* 1, or 2 when both words change */
    uint32_t mixed;    /* stores == 2: eax after the intermediate mov */
    uint64_t old[2], new[2];
};

/* Plans the rewrite of the site before `ip` for `nr` into a call of the
 * next arena slot; 0 if there is nothing to rewrite: not libc's `mov $nr,
 * %eax; syscall` (another shape, or rewritten already), or the slot out of
 * a call's reach.  Reads only libc's code and rw.used, so it may run
 * before the lock (and runs again under it: another thread may have
 * rewritten the site meanwhile). */
static int plan(long nr, uintptr_t ip, struct plan *p)
{
    if (ip < rw.lo + SITE_LEN || ip > rw.hi)
        return 0;
    uintptr_t site = ip - SITE_LEN;
    const unsigned char *code = (const unsigned char *)site;
    uint32_t imm;
    shim_memcpy(&imm, code + 1, 4);
    if (code[0] != 0xb8 || imm != (uint32_t)nr || code[5] != 0x0f || code[6] != 0x05)
        return 0;
    long rel = (long)next_slot() - (long)(site + MOV_LEN);
    if (rel != (int32_t)rel)
        return 0;
    unsigned char call[MOV_LEN] = {0xe8}; /* call rel32 */
    int32_t rel32 = (int32_t)rel;
    shim_memcpy(call + 1, &rel32, 4);

    p->site = site;
    p->word = site & ~(WORD - 1);
    p->words = ((site + MOV_LEN - 1) & ~(WORD - 1)) == p->word ? 1 : 2;
    _Static_assert(MOV_LEN <= WORD + 1, "a mov lies in at most two words");
    p->old[1] = 0;
    shim_memcpy(p->old, (const void *)p->word, WORD * (size_t)p->words);
    shim_memcpy(p->new, p->old, sizeof p->new);
    shim_memcpy((char *)p->new + (site - p->word), call, MOV_LEN);
    p->stores = p->words == 2 && p->new[1] != p->old[1] ? 2 : 1;
    if (p->stores == 2) {
        /* The first word as it was, the second as it will be. */
        uint64_t mid[2] = {p->old[0], p->new[1]};
        shim_memcpy(&p->mixed, (const char *)mid + (site - p->word) + 1, 4);
    }
    return 1;
}

/* Whether this process may make a two-store rewrite: registers for
 * membarrier's core serialization at the first (once per process; a
 * failure turns them off for good).  Contract: rw.lock is held. */
static int may_store_twice(void)
{
    if (!rw.serialize)
        rw.serialize = RAW3(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
                            0, 0) == 0 ? 1 : -1;
    return rw.serialize > 0;
}

/* Adds the site of `p` to the table, complete before it is counted; the
 * last free entry turns two-store rewrites off.  Contract: rw.lock is held,
 * the table has room (may_store_twice said yes). */
static void publish(const struct plan *p, long nr)
{
    uint32_t n = shim_straddles;
    straddle[n].trap = p->site + SITE_LEN;
    straddle[n].mixed = p->mixed;
    straddle[n].nr = (uint32_t)nr;
    __atomic_store_n(&shim_straddles, n + 1, __ATOMIC_RELEASE);
    if (n + 1 == STRADDLES)
        rw.serialize = -1;
}

/* Test only ($PYSHIM_TEST_LINGER): waits, yielding, until another thread's
 * trap in the intermediate state was corrected, or for LINGER_NS.
 * Contract: as store_twice, between its two stores. */
static void linger(void)
{
    if (!rw.linger)
        return;
    uint32_t seen = __atomic_load_n(&rw.corrected, __ATOMIC_ACQUIRE);
    struct timespec start, now;
    RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &start);
    do {
        RAW0(SYS_sched_yield);
        RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &now);
    } while (__atomic_load_n(&rw.corrected, __ATOMIC_ACQUIRE) == seen &&
             (now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) <
                 LINGER_NS);
}

/* Rewrites a site whose two words both change: the second word, every core
 * running this mm serialized, then the first (see the top comment).  Any
 * failure leaves the site as it was, or at worst in the intermediate
 * state, whose traps the table corrects.  Contract: rw.lock is held, every
 * signal is blocked, both words are writable, may_store_twice() said yes. */
static void store_twice(const struct plan *p, long nr)
{
    uintptr_t second = p->word + WORD;
    publish(p, nr);
    if (!swap_word(second, p->old[1], p->new[1]))
        return;
    if (RAW3(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0) != 0) {
        rw.serialize = -1;
        swap_word(second, p->new[1], p->old[1]); /* some cores may still see new[1]: harmless */
        return;
    }
    linger();
    if (!swap_word(p->word, p->old[0], p->new[0])) /* changed by someone else: give up */
        swap_word(second, p->new[1], p->old[1]);  /* (a core that still sees new[1] traps) */
}

/* Contract: `ip` is the address after a syscall that trapped with number
 * `nr`, which shim_syscall ran; signals are blocked and rw.lock is held. */
static void rewrite_locked(long nr, uintptr_t ip)
{
    struct plan p;
    int kind = rewrite_kind(nr); /* once: the stub and the site agree on it */
    if (kind == KIND_NONE || !plan(nr, ip, &p))
        return; /* (the mode may have turned on since the first look) */
    if (p.stores == 2 && !may_store_twice())
        return;
    if (!write_stub(nr, kind))
        return;
    size_t len = WORD * (size_t)p.words;
    if (!unlock_text(p.word, len, 1))
        return; /* the stub stays unused */
    if (p.stores == 1)
        swap_word(p.word, p.old[0], p.new[0]);
    else
        store_twice(&p, nr);
    unlock_text(p.word, len, 0);
}

/* Sites that trapped once in this process, by the address after their
 * syscall: SEEN_SETS sets of SEEN_WAYS.  A rewrite costs about five traps
 * (four mprotects, two copy-on-write faults, for a straddling site a
 * membarrier): a site is rewritten at its second trap, so calls a process
 * makes once (glibc's set_robust_list in every fork child, a short
 * program's start) never pay for it.  Ways, so that sites used in turn
 * whose addresses fall in one set do not keep evicting each other; a site
 * leaves its way when it is rewritten (at worst, when the rewrite is
 * skipped, it is recorded again at its next trap). */
#define SEEN_SETS 64
#define SEEN_WAYS 4
static uintptr_t seen[SEEN_SETS][SEEN_WAYS];

/* Whether the site before `ip` trapped before (and now it has).  Threads
 * race only to record an address or to evict one: either way a site is
 * rewritten at a later trap, never wrongly. */
static int trapped_before(uintptr_t ip)
{
    uintptr_t *set = seen[(ip ^ (ip >> 6) ^ (ip >> 12)) % SEEN_SETS];
    int free = -1;
    for (int i = 0; i < SEEN_WAYS; i++) {
        uintptr_t was = __atomic_load_n(&set[i], __ATOMIC_RELAXED);
        if (was == ip) { /* its way is free again: a rewritten site never traps */
            __atomic_store_n(&set[i], 0, __ATOMIC_RELAXED);
            return 1;
        }
        if (!was && free < 0)
            free = i;
    }
    /* A full set: the way the address picks (sites are a few bytes apart
     * at most by chance), so that two sites in turn rarely take the same. */
    __atomic_store_n(&set[free >= 0 ? free : (int)((ip >> 3) % SEEN_WAYS)], ip, __ATOMIC_RELAXED);
    return 0;
}

void shim_rewrite(long nr, uint64_t ip)
{
    /* Most traps come from sites already judged: decide before paying for
     * the signal mask and the lock. */
    struct plan p;
    if (!rw.lo || rewrite_kind(nr) == KIND_NONE || !plan(nr, (uintptr_t)ip, &p) ||
        (p.stores == 2 && rw.serialize < 0) || !trapped_before((uintptr_t)ip))
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

/* Contract (shim.h): from the SIGSYS handler; reads only published
 * entries, which never change. */
long shim_straddle_nr(long nr, uint64_t ip)
{
    uint32_t n = __atomic_load_n(&shim_straddles, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++)
        if (straddle[i].trap == ip && straddle[i].mixed == (uint32_t)nr) {
            __atomic_add_fetch(&rw.corrected, 1, __ATOMIC_RELEASE);
            return straddle[i].nr;
        }
    return nr;
}

/* Waits for rw.lock.  Contract: every signal is blocked (a handler of this
 * thread could otherwise wait for a lock its own thread holds). */
static void lock_waiting(void)
{
    while (__atomic_exchange_n(&rw.lock, 1, __ATOMIC_ACQUIRE))
        RAW0(SYS_sched_yield);
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
    lock_waiting();
    for (uint32_t i = 0; i < rw.used; i++) {
        char *slot = pyshim_arena + (size_t)i * SLOT;
        uint32_t nr;
        shim_memcpy(&nr, slot + 1, 4);
        if (rewritable(nr) || slot[MOV_LEN] != 0x0f || !unlock_text((uintptr_t)slot, SLOT, 1))
            continue;
        __atomic_store_n(slot + MOV_LEN, (char)0xc3, __ATOMIC_SEQ_CST);
        unlock_text((uintptr_t)slot, SLOT, 0);
    }
    __atomic_store_n(&rw.lock, 0, __ATOMIC_RELEASE);
}

/* Contract (shim.h): waits for a rewrite in progress, every signal
 * blocked meanwhile. */
void shim_rewrite_untrapped(void)
{
    uint64_t all = ~0ull, old;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
    lock_waiting();
    rw.serialize = -1;
    __atomic_store_n(&rw.lock, 0, __ATOMIC_RELEASE);
    shim_unblock(&old);
}

/* In a new process: the thread that held the lock at the fork, if any, is
 * not in it; membarrier registration is per mm, so register again (a
 * no-op if the kernel copied it).  Two-store rewrites stay off if they
 * were. */
void shim_rewrite_after_fork(void)
{
    if (rw.serialize > 0)
        rw.serialize = 0;
    if (__atomic_load_n(&rw.lock, __ATOMIC_RELAXED)) /* no copy-on-write for nothing */
        __atomic_store_n(&rw.lock, 0, __ATOMIC_RELEASE);
}

void shim_rewrite_resume(ucontext_t *uc)
{
    greg_t *g = uc->uc_mcontext.gregs;
    uintptr_t ip = (uintptr_t)g[REG_RIP], arena = (uintptr_t)pyshim_arena;
    if (g[REG_RAX] != -EINTR || ip < arena + SITE_LEN || ip > (uintptr_t)pyshim_arena_end)
        return;
    const unsigned char *slot = (const unsigned char *)(ip - SITE_LEN);
    /* Right after a stub's syscall: `mov $nr, %eax; syscall` behind it. */
    if (((uintptr_t)slot - arena) % SLOT || slot[0] != 0xb8 || slot[MOV_LEN] != 0x0f ||
        slot[MOV_LEN + 1] != 0x05)
        return;
    uint32_t nr;
    shim_memcpy(&nr, slot + 1, sizeof nr);
    long args[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
    if (!shim_resumable((long)nr, args, 0)) /* when it began is not known */
        return;
    g[REG_RDI] = args[0];
    g[REG_RDX] = args[2];
    g[REG_RIP] = (greg_t)(uintptr_t)slot; /* the stub sets eax again */
}
