/* The supervisor's SIGBUS handler for shrunken segments (see guard.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guard.h"

#define GUARD_PAGE 4096ul

struct guard_slot {
    uintptr_t start;
    size_t len;
    uint32_t used;    /* published last (release), read first (acquire) */
    uint32_t faulted; /* a page of the range was repaired */
};

static struct guard_slot slots[PYSHIM_GUARD_SLOTS];
static uint64_t repaired;
static struct sigaction previous;

/* Maps a private zero page over the page of `addr`.  Contract: `addr` lies
 * in a registered range (a shared mapping of a segment); async-signal-safe. */
static int repair(uintptr_t addr)
{
    uintptr_t page = addr & ~(GUARD_PAGE - 1);
    long r = syscall(SYS_mmap, page, GUARD_PAGE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    return r == (long)page ? 0 : -1;
}

/* A SIGBUS that is not ours: what would have happened without us. */
static void chain(int sig, siginfo_t *info, void *ctx)
{
    if (previous.sa_flags & SA_SIGINFO) {
        previous.sa_sigaction(sig, info, ctx);
        return;
    }
    if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* The default action: a fault repeats when we return; a sent signal
     * is sent again, and stays pending until this handler returns. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGBUS, &dfl, 0);
    if (info->si_code <= 0)
        syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGBUS);
}

/* Contract: installed for SIGBUS with SA_SIGINFO; async-signal-safe. */
static void on_sigbus(int sig, siginfo_t *info, void *ctx)
{
    uintptr_t addr = (uintptr_t)info->si_addr;
    if (info->si_code == BUS_ADRERR) {
        for (unsigned i = 0; i < PYSHIM_GUARD_SLOTS; i++) {
            struct guard_slot *s = &slots[i];
            if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
                continue;
            if (addr - s->start < s->len) {
                if (repair(addr) < 0)
                    break;
                __atomic_store_n(&s->faulted, 1, __ATOMIC_RELEASE);
                __atomic_fetch_add(&repaired, 1, __ATOMIC_SEQ_CST);
                return;
            }
        }
    }
    chain(sig, info, ctx);
}

int pyshim_guard_install(void)
{
    struct sigaction cur, act;
    if (sigaction(SIGBUS, 0, &cur) < 0)
        return -errno;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus)
        return 0;
    memset(&act, 0, sizeof act);
    act.sa_sigaction = on_sigbus;
    act.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&act.sa_mask);
    previous = cur;
    return sigaction(SIGBUS, &act, 0) < 0 ? -errno : 0;
}

int pyshim_guard_add(void *start, size_t len)
{
    for (unsigned i = 0; i < PYSHIM_GUARD_SLOTS; i++) {
        struct guard_slot *s = &slots[i];
        if (__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
            continue;
        s->start = (uintptr_t)start;
        s->len = len;
        s->faulted = 0;
        __atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
        return 0;
    }
    return -ENOSPC;
}

void pyshim_guard_remove(void *start)
{
    for (unsigned i = 0; i < PYSHIM_GUARD_SLOTS; i++)
        if (__atomic_load_n(&slots[i].used, __ATOMIC_ACQUIRE) &&
            slots[i].start == (uintptr_t)start) {
            __atomic_store_n(&slots[i].used, 0, __ATOMIC_RELEASE);
            return;
        }
}

uint64_t pyshim_guard_count(void)
{
    return __atomic_load_n(&repaired, __ATOMIC_SEQ_CST);
}

int pyshim_guard_faulted(const void *addr)
{
    for (unsigned i = 0; i < PYSHIM_GUARD_SLOTS; i++) {
        struct guard_slot *s = &slots[i];
        if (__atomic_load_n(&s->used, __ATOMIC_ACQUIRE) &&
            (uintptr_t)addr - s->start < s->len)
            return __atomic_load_n(&s->faulted, __ATOMIC_ACQUIRE);
    }
    return 0;
}
