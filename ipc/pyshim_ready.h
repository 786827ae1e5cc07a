/*
 * The run's ready set (struct pyshim_control, ready_*): which channels have
 * posted something since the supervisor last looked.  The shim marks, the
 * supervisor takes; both include this file, so the bitmap's rules live in
 * one place.  Everything is a seq_cst atomic (pyshim_sync.h).
 *
 * Summary bits (mid, top) are sticky: the supervisor takes only low words
 * and clears a summary bit only when it trims (before it sleeps, and when
 * takes keep finding idle words), so a busy channel's mark costs one atomic
 * OR and two loads of lines nobody writes.
 *
 * Why nothing is lost: a shim stores its channel's state, then ORs its low
 * bit, then loads the mid bit and sets it if clear, then the top bit
 * likewise.  The supervisor exchanges each marked low word under a set
 * summary bit.  Trimming clears a summary bit over an empty word and then
 * loads the word once more: a shim that saw the bit set did so before the
 * clear (all seq_cst), so its low bit is visible to that second load and
 * the bit is set again; a shim that saw it clear sets it itself.  A shim
 * killed between two steps leaves a low bit that the next mark in the same
 * word (or the supervisor's periodic full scan) brings to light.
 */
#ifndef PYSHIM_READY_H
#define PYSHIM_READY_H

#include "pyshim_ipc.h"
#include "pyshim_sync.h"

/* Marks channel `index` ready.  Contract: `c` is the run's mapped control
 * block; an index beyond the capacity is ignored (a supervisor never hands
 * one out). */
static inline void pyshim_ready_mark(struct pyshim_control *c, uint32_t index)
{
    if (index >= PYSHIM_READY_CAPACITY)
        return;
    uint32_t w = index >> 6, m = w >> 6;
    pyshim_or64(&c->ready_low[w], 1ull << (index & 63));
    if (!(pyshim_load64(&c->ready_mid[m]) & (1ull << (w & 63))))
        pyshim_or64(&c->ready_mid[m], 1ull << (w & 63));
    if (!(pyshim_load64(&c->ready_top) & (1ull << m)))
        pyshim_or64(&c->ready_top, 1ull << m);
}

/* Whether any mark is waiting to be taken (loads only: for polling). */
static inline int pyshim_ready_any(struct pyshim_control *c)
{
    for (uint64_t top = pyshim_load64(&c->ready_top); top; top &= top - 1) {
        uint32_t m = (uint32_t)__builtin_ctzll(top);
        for (uint64_t mid = pyshim_load64(&c->ready_mid[m]); mid; mid &= mid - 1)
            if (pyshim_load64(&c->ready_low[m * 64u + (uint32_t)__builtin_ctzll(mid)]))
                return 1;
    }
    return 0;
}

/* Takes every mark: writes the marked indices below `limit` to out (room
 * for `limit` entries: each index at most once) and returns how many; adds
 * to *empty the words it looked at in vain (trim when they pile up).
 * Contract: one taker at a time (the dispatcher); any number of markers.  Only
 * low words that hold marks are exchanged: summary bits stay set, and a
 * busy channel's next mark costs one atomic OR. */
static inline uint32_t pyshim_ready_take(struct pyshim_control *c, uint32_t *out, uint32_t limit,
                                         uint32_t *empty)
{
    uint32_t n = 0;
    for (uint64_t top = pyshim_load64(&c->ready_top); top; top &= top - 1) {
        uint32_t m = (uint32_t)__builtin_ctzll(top);
        for (uint64_t mid = pyshim_load64(&c->ready_mid[m]); mid; mid &= mid - 1) {
            uint32_t w = m * 64u + (uint32_t)__builtin_ctzll(mid);
            if (!pyshim_load64(&c->ready_low[w])) {
                ++*empty;
                continue;
            }
            for (uint64_t low = pyshim_exchange64(&c->ready_low[w], 0); low; low &= low - 1) {
                uint32_t i = w * 64u + (uint32_t)__builtin_ctzll(low);
                if (i < limit)
                    out[n++] = i;
            }
        }
    }
    return n;
}

/* Clears the summary bits of empty words (before the supervisor sleeps, so
 * that idle channels cost nothing to look at): each clear is followed by
 * another look, and a word found marked again gets its bit back.
 * Contract: called by the one taker, never concurrently with a take. */
static inline void pyshim_ready_trim(struct pyshim_control *c)
{
    for (uint64_t top = pyshim_load64(&c->ready_top); top; top &= top - 1) {
        uint32_t m = (uint32_t)__builtin_ctzll(top);
        for (uint64_t mid = pyshim_load64(&c->ready_mid[m]); mid; mid &= mid - 1) {
            uint64_t bit = mid & -mid;
            uint64_t *low = &c->ready_low[m * 64u + (uint32_t)__builtin_ctzll(mid)];
            if (pyshim_load64(low))
                continue;
            __atomic_fetch_and(&c->ready_mid[m], ~bit, __ATOMIC_SEQ_CST);
            if (pyshim_load64(low))
                pyshim_or64(&c->ready_mid[m], bit);
        }
        if (pyshim_load64(&c->ready_mid[m]))
            continue;
        __atomic_fetch_and(&c->ready_top, ~(1ull << m), __ATOMIC_SEQ_CST);
        if (pyshim_load64(&c->ready_mid[m]))
            pyshim_or64(&c->ready_top, 1ull << m);
    }
}

#endif /* PYSHIM_READY_H */
