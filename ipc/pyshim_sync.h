/*
 * Memory ordering of the protocol, shared by the shim and pyshim._core so
 * both sides agree on it.  A side publishes a slot with a seq_cst store of
 * the state word after filling the slot; the other side reads the state with
 * acquire before reading the slot.  Sleep flags (`shim_sleeping`,
 * `sleepers`) pair a seq_cst store with a seq_cst load of the state or the
 * doorbell (the store-buffer pattern), so a waker sees a sleeper or the
 * sleeper sees the new state: no lost wake-ups.
 */
#ifndef PYSHIM_SYNC_H
#define PYSHIM_SYNC_H

#include <stdint.h>

static inline uint32_t pyshim_load_acquire(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint32_t pyshim_load_seq(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline void pyshim_store_seq(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static inline void pyshim_store_relaxed(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline uint32_t pyshim_fetch_add_seq(uint32_t *p, uint32_t v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

/* Moves *p from `expected` to `desired` if it holds `expected`; returns the
 * value it held (equal to `expected` on success). */
static inline uint32_t pyshim_cas(uint32_t *p, uint32_t expected, uint32_t desired)
{
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

static inline uint64_t pyshim_load64(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline void pyshim_store64(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static inline void pyshim_or64(uint64_t *p, uint64_t v)
{
    __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
}

static inline uint64_t pyshim_exchange64(uint64_t *p, uint64_t v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}

static inline void pyshim_cpu_relax(void)
{
    __builtin_ia32_pause();
}

#endif /* PYSHIM_SYNC_H */
