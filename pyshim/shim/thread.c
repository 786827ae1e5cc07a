/* Per-thread set-up: the alternate signal stack that carries the thread's
 * shim state, the SIGSYS handler, and Syscall User Dispatch. */
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "shim.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#endif

/* Maps an alternate stack aligned to its own size, so that masking a stack
 * pointer inside it finds its base.  Layout: page 0 holds struct shim_thread,
 * page 1 is a guard, the rest is stack.  Returns NULL on failure. */
_Static_assert(sizeof(struct shim_thread) <= 4096, "thread state fits page 0 of its altstack");

struct shim_thread *shim_map_altstack(void)
{
    for (int i = 0; i < SHIM_SPARE_ALTSTACKS; i++) {
        uintptr_t *slot = &shim_proc.spare_altstacks[i];
        uintptr_t spare = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (spare && (spare = __atomic_exchange_n(slot, 0, __ATOMIC_ACQUIRE))) {
            shim_memset((void *)spare, 0, sizeof(struct shim_thread));
            return (struct shim_thread *)spare;
        }
    }
    long raw = RAW6(SYS_mmap, 0, 2 * SHIM_ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw < 0 && raw > -4096)
        return NULL;
    uintptr_t start = (uintptr_t)raw;
    uintptr_t base = (start + SHIM_ALTSTACK_SIZE - 1) & ~(uintptr_t)(SHIM_ALTSTACK_SIZE - 1);
    if (base > start)
        RAW2(SYS_munmap, start, base - start);
    uintptr_t end = start + 2 * SHIM_ALTSTACK_SIZE;
    if (end > base + SHIM_ALTSTACK_SIZE)
        RAW2(SYS_munmap, base + SHIM_ALTSTACK_SIZE, end - (base + SHIM_ALTSTACK_SIZE));
    RAW3(SYS_mprotect, base + 4096, 4096, PROT_NONE);
    return (struct shim_thread *)base;
}

/* An empty slot for a spare altstack, or NULL (the region is unmapped). */
static uintptr_t *spare_slot(void)
{
    for (int i = 0; i < SHIM_SPARE_ALTSTACKS; i++)
        if (!__atomic_load_n(&shim_proc.spare_altstacks[i], __ATOMIC_RELAXED))
            return &shim_proc.spare_altstacks[i];
    return NULL;
}

void shim_free_altstack(struct shim_thread *area)
{
    uintptr_t *slot = spare_slot(), empty = 0;
    if (!slot || !__atomic_compare_exchange_n(slot, &empty, (uintptr_t)area, 0, __ATOMIC_RELEASE,
                                              __ATOMIC_RELAXED))
        RAW2(SYS_munmap, area, SHIM_ALTSTACK_SIZE);
}

long shim_install_sigsys_handler(void)
{
    /* SA_NODEFER and an empty sa_mask: the handler runs with the program's
     * own signal mask, so syscalls executed natively inside it can be
     * interrupted exactly as without pyshim. */
    struct shim_kaction act = {
        .handler = (uintptr_t)shim_on_sigsys,
        .flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESTORER,
        .restorer = (uintptr_t)pyshim_restorer,
        .mask = 0,
    };
    return RAW4(SYS_rt_sigaction, SIGSYS, &act, 0, 8);
}

/* Contract: runs on the thread being set up, before any of its syscalls are
 * dispatched; `channel` is mapped and owned by this thread. */
struct shim_thread *shim_thread_init(struct pyshim_channel *channel,
                                     const struct pyshim_block_desc *desc, long *status)
{
    struct shim_thread *t = shim_map_altstack();
    return t ? shim_thread_init_at(t, channel, desc, status) : NULL;
}

/* Contract: as shim_thread_init; `t` is a region from shim_map_altstack
 * that no other thread uses as its altstack. */
struct shim_thread *shim_thread_init_at(struct shim_thread *t, struct pyshim_channel *channel,
                                        const struct pyshim_block_desc *desc, long *status)
{
    t->magic = SHIM_THREAD_MAGIC;
    t->vfork_child = 0;
    t->held_seq = 0;
    t->nsettled = 0;
    shim_memset(t->settled, 0, sizeof t->settled);
    t->channel = channel;
    shim_memcpy(&t->desc, desc, sizeof t->desc);
    t->pid = (int32_t)RAW0(SYS_getpid);
    t->tid = (int32_t)RAW0(SYS_gettid);
    t->program_altstack.ss_sp = 0;
    t->program_altstack.ss_size = 0;
    t->program_altstack.ss_flags = SS_DISABLE;
    t->sigsys_blocked = 0;
    t->sigsys_pending = 0;
    t->sigsys_kept = 0;
    t->own_signals = 0;
    t->handlers_run = 0;
    t->handler_returns = 0;
    t->sfd_depth = 0;
    t->sfd_slot = -1;
    t->sfd_token = 0;
    t->sfd_handlers = 0;

    stack_t ss = {
        .ss_sp = (char *)t + SHIM_STACK_START,
        .ss_size = SHIM_ALTSTACK_SIZE - SHIM_STACK_START,
        .ss_flags = 0,
    };
    *status = RAW2(SYS_sigaltstack, &ss, 0);
    if (*status == 0)
        *status = shim_arm();
    return t;
}

long shim_arm(void)
{
    uintptr_t lo = (uintptr_t)__start_pyshim_text;
    uintptr_t len = (uintptr_t)__stop_pyshim_text - lo;
    /* A NULL selector means "always dispatch" outside [lo, lo+len). */
    return RAW6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, lo, len, 0, 0);
}

void shim_check_tsc(void)
{
    int state = PR_TSC_ENABLE;
    if (RAW2(SYS_prctl, PR_GET_TSC, &state) == 0)
        shim_proc.tsc_faults = state != PR_TSC_ENABLE;
}

long shim_prctl(const long a[6])
{
    if (a[0] == PR_SET_PDEATHSIG) {
        if ((unsigned long)a[1] > 64)
            return -EINVAL;
        shim_proc.pdeathsig = (int32_t)a[1];
        return 0;
    }
    if (a[0] == PR_GET_PDEATHSIG)
        return shim_copy_out((void *)a[1], &shim_proc.pdeathsig, sizeof(int)) ? -EFAULT : 0;
    long r = pyshim_raw_syscall(SYS_prctl, a[0], a[1], a[2], a[3], a[4], a[5]);
    /* The flag is per thread in the kernel; one thread that made rdtsc
     * fault is enough for the whole process to stop using it. */
    if (r == 0 && a[0] == PR_SET_TSC && a[1] != PR_TSC_ENABLE)
        shim_proc.tsc_faults = 1;
    return r;
}

/* ptrace, run natively.  After PTRACE_TRACEME the process belongs to its
 * tracer: each trap would be a signal stop the tracer sees (and gdb, still
 * inside vfork, could never collect it), so the thread stops trapping; the
 * image it execs finds a channel that is not its own and stays out
 * (init.c), and two-store rewrites stop (rewrite.c: it would run their
 * intermediate state natively).  The supervisor said so in one line when
 * the call reached it. */
long shim_ptrace(const struct shim_thread *t, const long a[6])
{
    long r = pyshim_raw_syscall(SYS_ptrace, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (r == 0 && a[0] == PTRACE_TRACEME) {
        /* The direct entry off (a traced thread must trap), but not from a
         * vfork child (gdb starts its program so): this memory is its
         * parent's, and the child's own direct sites bail (direct.c). */
        if (!t->vfork_child)
            shim_direct_off();
        shim_rewrite_untrapped();
        RAW6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0, 0);
    }
    return r;
}

/* Contract: `t` is the calling thread's state; nothing uses it afterwards. */
void shim_thread_exit(struct shim_thread *t, int status)
{
    uint64_t all = ~0ull;
    RAW4(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
    t->magic = 0;
    if (t->vfork_child) /* the suspended parent gives it back */
        for (;;)
            RAW1(SYS_exit, status);
    pyshim_exit_thread(t, SHIM_ALTSTACK_SIZE, status, spare_slot());
}
