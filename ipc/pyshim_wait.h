/*
 * How either side waits for the other: one rule, included by the shim and
 * by pyshim._core.
 *
 * A waiter polls its word (the channel's state, or the run's ready set) and
 * every few polls gives its CPU away with sched_yield; after a while it
 * sleeps on its futex, and the partner's sleep flag tells the
 * partner to wake it (pyshim_sync.h).
 *
 * On an idle machine a yield returns at once (~0.4 us here): the wait is a
 * spin, and a reply is seen within a microsecond.  On a busy machine
 * (several runs at once under `pytest -n auto`, or 32 program threads on 2
 * cores) a yield hands the CPU to whoever is runnable, very often the
 * partner the waiter waits for, so nobody holds a CPU for a time slice
 * waiting for a partner that is not running: pure spinning made 4 runs at
 * once 98 times slower than one alone on 2 cores.  The waiter tells the two
 * apart by timing its yields with the time-stamp counter: one that took
 * long gave the CPU to someone, and the next waits yield early.
 *
 * bench/bench_parallel.py and bench/bench_threads.py measure the rule.
 */
#ifndef PYSHIM_WAIT_H
#define PYSHIM_WAIT_H

#include <stdint.h>

/* Polls between yields while the machine looks idle (~1.5 us at ~24 ns a
 * pause here: as long as a quick reply takes) and while it looks busy
 * (~0.2 us). */
#define PYSHIM_POLLS_IDLE 64
#define PYSHIM_POLLS_BUSY 8
/* How long a shim thread polls for its reply before it sleeps (~100 us at
 * a 2 GHz time-stamp counter: a Python handler usually answers within
 * that, and a futex wake-up on a VM costs ~40 us), and how long the
 * dispatcher polls for any event (~0.5 ms).  Time, not a count of yields:
 * on a busy machine one yield can last a whole time slice of someone else. */
#define PYSHIM_SHIM_POLL_TICKS 200000
#define PYSHIM_DISPATCHER_POLL_TICKS 1000000
/* Until a run's program says Start, and from an exec until the new
 * image's Start, the dispatcher polls longer (~2 ms): the loader and the
 * shim's start take ~0.5 ms here, and a dispatcher asleep by then adds a
 * futex wake-up (~20 us) to every run and every exec. */
#define PYSHIM_DISPATCHER_START_POLL_TICKS 4000000
/* A yield that took longer than this many time-stamp counter ticks (several
 * microseconds at any clock rate) gave the CPU to someone: the machine is
 * busy, and the waiter's next PYSHIM_BUSY_WAITS waits yield early. */
#define PYSHIM_SLOW_YIELD_TICKS 20000
#define PYSHIM_BUSY_WAITS 256

/* One waiter's memory of how busy the machine was (0: idle). */
typedef uint32_t pyshim_waiter;

/* The time-stamp counter.  A program may make it fault (prctl PR_SET_TSC):
 * the shim then reads CLOCK_MONOTONIC in nanoseconds instead (shim.h), and
 * the budgets below read as roughly the same times. */
static inline uint64_t pyshim_ticks(void)
{
    return __builtin_ia32_rdtsc();
}

/* Polls to make before the next yield. */
static inline unsigned pyshim_wait_stride(const pyshim_waiter *w)
{
    return *w ? PYSHIM_POLLS_BUSY : PYSHIM_POLLS_IDLE;
}

/* Call after each yield with the clock read just before and after it. */
static inline void pyshim_wait_yielded(pyshim_waiter *w, uint64_t before, uint64_t after)
{
    if (after - before > PYSHIM_SLOW_YIELD_TICKS)
        *w = PYSHIM_BUSY_WAITS;
}

/* Whether a wait that started polling at `start` should sleep at `now`. */
static inline int pyshim_wait_should_sleep(uint64_t start, uint64_t now, uint64_t budget)
{
    return now - start > budget;
}

/* Call when a wait ends (by polling or sleeping). */
static inline void pyshim_wait_ended(pyshim_waiter *w)
{
    if (*w)
        (*w)--;
}

#endif /* PYSHIM_WAIT_H */
