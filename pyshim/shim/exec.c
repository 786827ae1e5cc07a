/* execve and execveat: a new image joins the run through its environment
 * (LD_PRELOAD loads the shim, PYSHIM_CHANNEL names this thread's channel),
 * so both are put back whatever envp the program passes (env -i, execle). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "shim.h"

#define ENV_ON_STACK 2048  /* entries; more go into a temporary mapping */
#define PRELOAD_MAX 4096   /* bytes of the program's own LD_PRELOAD kept */
#define CHUNK 64           /* envp pointers read at a time */
#define SPAN_MAX 16384     /* bytes of the strings read in one piece */
#define HEAD 16            /* bytes of a string that tell what it is */

static const char CHANNEL_KEY[] = PYSHIM_ENV_CHANNEL "=";
static const char PRELOAD_KEY[] = "LD_PRELOAD=";
static const char FDS_KEY[] = PYSHIM_ENV_FDS "=";
static const char SIGSYSFD_ENTRY[] = PYSHIM_ENV_SIGSYSFD "=1";

static int starts_with(const char *s, size_t n, const char *prefix)
{
    size_t len = shim_strlen(prefix);
    return n >= len && shim_strncmp(s, prefix, len) == 0;
}

/* Appends the entries of a colon- or space-separated preload list that are
 * not this library.  Returns the new length. */
static size_t add_other_preloads(char *out, size_t at, size_t cap, const char *list, size_t n)
{
    size_t ours = shim_strlen(shim_proc.preload);
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && list[end] != ':' && list[end] != ' ')
            end++;
        size_t len = end - i;
        int mine = len == ours && shim_strncmp(list + i, shim_proc.preload, len) == 0;
        if (len && !mine && at + 1 + len < cap) {
            out[at++] = ':';
            shim_memcpy(out + at, list + i, len);
            at += len;
        }
        i = end + 1;
    }
    return at;
}

/* "PYSHIM_CHANNEL=<segment>:<offset>:<size>" for the calling thread. */
static void channel_entry(char *out, const struct pyshim_block_desc *d)
{
    size_t n = shim_strlen(CHANNEL_KEY);
    shim_memcpy(out, CHANNEL_KEY, n);
    for (size_t i = 0; i < PYSHIM_SEGMENT_NAME_MAX && d->segment[i]; i++)
        out[n++] = d->segment[i];
    out[n++] = ':';
    n += shim_utoa(out + n, d->offset);
    out[n++] = ':';
    n += shim_utoa(out + n, d->size);
    out[n] = 0;
}

/* The program's environment strings read in one piece: they usually lie
 * together (on the stack an exec made, or in a shell's heap), and a
 * gather of one piece per string costs the kernel a page walk for each
 * (~0.4 us: 20 us of a shell's exec).  bytes[0, got) are the program's
 * [lo, lo + got). */
struct span {
    uintptr_t lo;
    size_t got;
    char bytes[SPAN_MAX];
};

/* Reads the span of the strings env[0, count) point to, with what follows
 * the last one, up to SPAN_MAX bytes (less where the program's memory
 * ends); got = 0 if they lie too far apart. */
static void read_span(struct span *sp, const char *const *env, long count)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (long i = 0; i < count; i++) {
        uintptr_t p = (uintptr_t)env[i];
        if (p && p < lo)
            lo = p;
        if (p > hi)
            hi = p;
    }
    sp->lo = lo;
    sp->got = 0;
    if (hi < lo || hi - lo > SPAN_MAX - HEAD)
        return;
    size_t want = hi - lo + HEAD + PRELOAD_MAX; /* the last string's value too */
    sp->got = shim_copy_in_partial(sp->bytes, (const void *)lo, want < SPAN_MAX ? want : SPAN_MAX);
}

/* How many of the program's bytes from `p` on the span holds, up to `max`. */
static size_t span_tail(const struct span *sp, const char *p, size_t max)
{
    uintptr_t at = (uintptr_t)p;
    if (at < sp->lo || at - sp->lo >= sp->got)
        return 0;
    size_t n = sp->got - (at - sp->lo);
    return n < max ? n : max;
}

/* The program's `n` bytes at `p`, from the span; NULL if it lacks them. */
static const char *span_at(const struct span *sp, const char *p, size_t n)
{
    uintptr_t at = (uintptr_t)p;
    if (at < sp->lo || at - sp->lo > sp->got || sp->got - (at - sp->lo) < n)
        return 0;
    return sp->bytes + (at - sp->lo);
}

/* Whether `entry` (a "PYSHIM_CHANNEL=..." string of the program's envp)
 * names a channel of another run than `ours`: the program being exec'd was
 * started by another pyshim supervisor (a run inside this run), which
 * supervises it from now on.  Runs are told apart by the segment name's
 * run id: "/pyshim-<run id>-<n>". */
static int names_another_run(const char *entry, const struct pyshim_block_desc *ours,
                             const struct span *sp)
{
    char copy[PYSHIM_SEGMENT_NAME_MAX];
    const char *value = span_at(sp, entry + shim_strlen(CHANNEL_KEY), sizeof copy);
    size_t got = sizeof copy;
    if (!value) {
        got = shim_copy_in_partial(copy, entry + shim_strlen(CHANNEL_KEY), sizeof copy);
        value = copy;
    }
    size_t run = 0; /* length of our "/pyshim-<run id>-" */
    for (size_t i = 0; i < PYSHIM_SEGMENT_NAME_MAX && ours->segment[i]; i++)
        if (ours->segment[i] == '-')
            run = i + 1;
    if (got < run + 1 || shim_strncmp(value, ours->segment, run))
        return 1;
    for (size_t i = run; i < got && value[i] != ':'; i++) /* a digit, then ':' */
        if (value[i] < '0' || value[i] > '9')
            return 1;
    return 0;
}

/* Counts the program's envp entries, reading them into `out` (room for
 * `cap`) while they fit: when count + CHUNK <= cap, out[0, count) holds
 * them all.  -EFAULT if the array is unreadable. */
static long count_env(const char *const *uenv, const char **out, size_t cap)
{
    long count = 0;
    for (;;) {
        const char *chunk[CHUNK];
        const char **dst = (size_t)count + CHUNK <= cap ? out + count : chunk;
        if (shim_copy_in(dst, uenv + count, CHUNK * sizeof *dst)) {
            /* The array may end close to an unmapped page: go one by one. */
            if (shim_copy_in(dst, uenv + count, sizeof *dst))
                return -EFAULT;
            if (!dst[0])
                return count;
            count++;
            continue;
        }
        for (int i = 0; i < CHUNK; i++, count++)
            if (!dst[i])
                return count;
    }
}

/* Puts the run's seccomp filter (control `filter`) on the calling thread
 * for the static program it is about to exec: the supervisor's tracer has
 * seized the process, so the filter's SECCOMP_RET_TRACE stops reach it.
 * PR_SET_NO_NEW_PRIVS first, as an unprivileged filter needs (a setuid
 * program then gains nothing).  A filter the kernel refuses (no seccomp, a
 * scribbled control block) leaves the exec to go on unfiltered: the tracer
 * sees that in /proc and says so.  Contract: called from the SIGSYS handler
 * of the thread about to exec; the control block is mapped. */
static void install_filter(void)
{
    const struct pyshim_control *c = shim_proc.control;
    uint32_t n = __atomic_load_n(&c->filter_len, __ATOMIC_ACQUIRE);
    if (n == 0 || n > PYSHIM_FILTER_MAX)
        return;
    /* The kernel copies the instructions (and checks them) at once. */
    struct sock_fprog prog = {(unsigned short)n, (struct sock_filter *)(uintptr_t)c->filter};
    if (RAW6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) == 0)
        RAW3(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* Contract: `t` is the calling thread's state; `a` the program's raw
 * arguments (every pointer untrusted).  Runs inside the SIGSYS handler on
 * the thread's altstack, which holds the new environment while the kernel
 * copies it. */
long shim_execve(struct shim_thread *t, long nr, const long a[6])
{
    const char *const *uenv = (const char *const *)(nr == SYS_execve ? a[2] : a[3]);
    const char *stack_env[ENV_ON_STACK];
    long count = uenv ? count_env(uenv, stack_env, ENV_ON_STACK) : 0;
    if (count < 0)
        return count;

    const char **env = stack_env;
    int read = (size_t)count + CHUNK <= ENV_ON_STACK; /* the pointers are in stack_env */
    size_t bytes = ((size_t)count + 5) * sizeof *env;
    if ((size_t)count + 5 > ENV_ON_STACK) {
        long m = RAW6(SYS_mmap, 0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m < 0 && m > -4096)
            return m;
        env = (const char **)m;
    }

    /* A tracer attached, or the supervisor's tracer takes the static
     * program this exec starts: the new image starts without pyshim (a
     * tracer would stop at every trap), so neither variable goes to it. */
    uint32_t leave = __atomic_load_n(&t->channel->leave, __ATOMIC_ACQUIRE);
    int leaving = leave != PYSHIM_LEAVE_NOT;
    char preload[PRELOAD_MAX + 640];
    size_t plen = shim_strlen(PRELOAD_KEY);
    shim_memcpy(preload, PRELOAD_KEY, plen);
    if (!leaving) {
        shim_memcpy(preload + plen, shim_proc.preload, shim_strlen(shim_proc.preload));
        plen += shim_strlen(shim_proc.preload);
    }
    size_t others = plen; /* where the program's own preloads start */

    /* The pointers in one read, and the first bytes of the strings they
     * point to SHIM_GATHER_MAX at a time: a copy per string and per
     * pointer cost a bash loop ~100 syscalls per exec.  Kept entries are
     * compacted in place (kept <= i). */
    if (count && !read && shim_copy_in(env, uenv, (size_t)count * sizeof *env)) {
        if (env != stack_env)
            RAW2(SYS_munmap, env, bytes);
        return -EFAULT; /* unmapped since it was counted */
    }
    struct span sp;
    read_span(&sp, env, count);
    size_t kept = 0, whole = 0;
    long gathered = -1; /* heads[k] is entry gathered + k's */
    int nested = 0;
    char heads[SHIM_GATHER_MAX][HEAD];
    for (long i = 0; i < count; i++) {
        const char *entry = env[i];
        const char *head = entry ? span_at(&sp, entry, HEAD) : 0;
        size_t n = HEAD;
        if (!head) {
            /* Outside the span: the first bytes of SHIM_GATHER_MAX strings
             * at a time, and past a string the kernel could not read
             * whole, one at a time. */
            if (gathered < 0 || i >= gathered + (long)SHIM_GATHER_MAX) {
                /* From i on: entries before it may be compacted over. */
                size_t batch = (size_t)(count - i) < SHIM_GATHER_MAX ? (size_t)(count - i)
                                                                       : SHIM_GATHER_MAX;
                whole = shim_gather_in(heads, (const void *const *)(env + i), batch,
                                       sizeof heads[0], t->pid);
                gathered = i;
            }
            long slot = i - gathered;
            head = heads[slot];
            n = (size_t)slot < whole ? HEAD
                : entry ? shim_copy_in_partial(heads[slot], entry, HEAD) : 0;
        }
        if (starts_with(head, n, CHANNEL_KEY)) {
            nested |= names_another_run(entry, &t->desc, &sp);
            continue;
        }
        if (starts_with(head, n, FDS_KEY) ||
            starts_with(head, n, PYSHIM_ENV_SIGSYSFD "="))
            continue;
        if (starts_with(head, n, PRELOAD_KEY)) {
            const char *at = entry + shim_strlen(PRELOAD_KEY);
            char copy[PRELOAD_MAX];
            size_t got = span_tail(&sp, at, PRELOAD_MAX);
            const char *value = got ? span_at(&sp, at, got) : 0;
            size_t len = 0;
            while (len < got && value[len])
                len++;
            if (len == got && got < PRELOAD_MAX) { /* its end is past the span */
                got = shim_copy_in_partial(copy, at, sizeof copy);
                value = copy;
                for (len = 0; len < got && value[len];)
                    len++;
            }
            plen = add_other_preloads(preload, plen, sizeof preload - 1, value, len);
            continue;
        }
        env[kept++] = entry;
    }
    preload[plen] = 0;
    if (nested) { /* the program's environment as it is: the inner run's */
        if (env != stack_env)
            RAW2(SYS_munmap, env, bytes);
        env = (const char **)uenv;
        goto run;
    }
    char channel[sizeof CHANNEL_KEY + PYSHIM_SEGMENT_NAME_MAX + 48];
    channel_entry(channel, &t->desc);
    char fds[sizeof FDS_KEY + 8 * (PYSHIM_SEGMENT_NAME_MAX + 12)];
    if (!leaving) {
        env[kept++] = channel;
        if (shim_proc.preload[0])
            env[kept++] = preload;
        size_t key = shim_strlen(FDS_KEY);
        shim_memcpy(fds, FDS_KEY, key);
        if (shim_maps_kept_text(fds + key, sizeof fds - key))
            env[kept++] = fds;
        if (shim_proc.sigsys_fd) /* its signalfds may come along */
            env[kept++] = SIGSYSFD_ENTRY;
    } else if (plen > others) { /* the program's own preloads, without ours */
        for (size_t i = others; i < plen; i++) /* drop the first one's ':' */
            preload[i] = preload[i + 1];
        env[kept++] = preload;
    }
    env[kept] = 0;

run:
    if (t->nsettled) {
        /* Answers a signal handler's frames never claimed die with the
         * image: close them now (a failed exec's frames ask again). */
        uint64_t old;
        shim_block_signals(&old);
        shim_drop_settled(t);
        shim_unblock(&old);
    }
    /* The new image reads the program's parent-death signal from the
     * kernel (init.c), and sets the shim's own again.  A vfork child has
     * none (the kernel clears it) and shares its parent's shim_proc. */
    RAW2(SYS_prctl, PR_SET_PDEATHSIG, t->vfork_child ? 0 : shim_proc.pdeathsig);
    if (leave == PYSHIM_LEAVE_PTRACE)
        install_filter();
    shim_sigsys_before_exec(t);
    long r = nr == SYS_execve ? RAW3(SYS_execve, a[0], a[1], env)
                              : RAW6(SYS_execveat, a[0], a[1], a[2], env, a[4], 0);
    shim_sigsys_after_failed_exec(t);
    /* Still this image: the shim's tie again. */
    if (t->vfork_child) {
        RAW2(SYS_prctl, PR_SET_PDEATHSIG, SIGSYS);
    } else {
        shim_follow_supervisor();
        /* No conversation need follow a failed exec (without an after-hook
         * there is no SyscallDone): a supervisor that died during it,
         * before the prctl, is noticed here or not at all. */
        if (shim_supervisor_gone())
            shim_die("the supervisor is gone; stopping the program");
    }
    if (env != stack_env && !nested)
        RAW2(SYS_munmap, env, bytes);
    return r;
}
