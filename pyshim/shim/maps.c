/* Per-process cache of mapped shared-memory segments.  A block descriptor
 * names a segment; the segment is mapped whole on first use and reused. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "shim.h"

#define SHIM_MAX_SEGMENTS 32

static struct {
    char name[PYSHIM_SEGMENT_NAME_MAX];
    char *base;
    uint64_t size;
} maps[SHIM_MAX_SEGMENTS];
static int maps_lock;

/* Descriptors of segments, kept open across exec by a process that left
 * the mount namespace it started in: its new images may no longer find
 * the segments in /dev/shm by name (a fresh tmpfs there). */
#define SHIM_MAX_KEPT 8
static struct {
    char name[PYSHIM_SEGMENT_NAME_MAX];
    int32_t fd; /* 0: free slot */
} kept[SHIM_MAX_KEPT];

static void *map_locked(const struct pyshim_block_desc *desc);
static int parse_u64(const char **p, uint64_t *out);

/* Contract: `desc` points to readable memory of the descriptor's size.  The
 * segment name is validated here (it comes from the program's environment
 * or from shared memory).  Threads may call this concurrently (a spinlock
 * guards the cache); signals must be blocked, since a handler re-entering it
 * on the same thread would spin forever. */
void *shim_map_block(const struct pyshim_block_desc *desc)
{
    while (__atomic_exchange_n(&maps_lock, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
    void *p = map_locked(desc);
    __atomic_store_n(&maps_lock, 0, __ATOMIC_RELEASE);
    return p;
}

static void *map_locked(const struct pyshim_block_desc *desc)
{
    size_t len = 0;
    while (len < PYSHIM_SEGMENT_NAME_MAX && desc->segment[len])
        len++;
    if (len == 0 || len == PYSHIM_SEGMENT_NAME_MAX || desc->segment[0] != '/')
        return NULL;
    for (size_t i = 1; i < len; i++)
        if (desc->segment[i] == '/')
            return NULL;

    int slot = -1;
    for (int i = 0; i < SHIM_MAX_SEGMENTS; i++) {
        if (maps[i].base && shim_strncmp(maps[i].name, desc->segment, PYSHIM_SEGMENT_NAME_MAX) == 0) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        for (int i = 0; i < SHIM_MAX_SEGMENTS && slot < 0; i++)
            if (!maps[i].base)
                slot = i;
        if (slot < 0)
            return NULL;
        char path[16 + PYSHIM_SEGMENT_NAME_MAX] = "/dev/shm";
        shim_memcpy(path + 8, desc->segment, len + 1);
        long fd = RAW3(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        int own = fd >= 0;
        for (int i = 0; fd < 0 && i < SHIM_MAX_KEPT; i++)
            if (kept[i].fd > 0 && shim_strncmp(kept[i].name, desc->segment, len + 1) == 0)
                fd = kept[i].fd;
        if (fd < 0)
            return NULL;
        struct stat st;
        long r = RAW2(SYS_fstat, fd, &st);
        long addr = r < 0 ? -EINVAL
                          : RAW6(SYS_mmap, 0, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (own)
            RAW1(SYS_close, fd);
        if (addr < 0 && addr > -4096)
            return NULL;
        shim_memcpy(maps[slot].name, desc->segment, len + 1);
        maps[slot].size = (uint64_t)st.st_size;
        maps[slot].base = (char *)addr; /* last: a set base marks the slot used */
    }
    if (desc->offset > maps[slot].size || desc->size > maps[slot].size - desc->offset)
        return NULL;
    return maps[slot].base + desc->offset;
}

void shim_maps_keep(void)
{
    while (__atomic_exchange_n(&maps_lock, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
    for (int i = 0; i < SHIM_MAX_SEGMENTS; i++) {
        if (!maps[i].base)
            continue;
        int have = 0, free_slot = -1;
        for (int k = 0; k < SHIM_MAX_KEPT; k++) {
            if (kept[k].fd > 0 && !shim_strncmp(kept[k].name, maps[i].name, PYSHIM_SEGMENT_NAME_MAX))
                have = 1;
            else if (kept[k].fd <= 0 && free_slot < 0)
                free_slot = k;
        }
        if (have || free_slot < 0)
            continue;
        char path[16 + PYSHIM_SEGMENT_NAME_MAX] = "/dev/shm";
        shim_memcpy(path + 8, maps[i].name, shim_strlen(maps[i].name) + 1);
        long fd = RAW3(SYS_openat, AT_FDCWD, path, O_RDWR | O_NOFOLLOW); /* inherited by exec */
        if (fd > 0) {
            shim_memcpy(kept[free_slot].name, maps[i].name, PYSHIM_SEGMENT_NAME_MAX);
            kept[free_slot].fd = (int32_t)fd;
        }
    }
    __atomic_store_n(&maps_lock, 0, __ATOMIC_RELEASE);
}

long shim_maps_open(const char *name, int *own)
{
    size_t len = shim_strlen(name);
    *own = 0;
    if (len == 0 || len >= PYSHIM_SEGMENT_NAME_MAX || name[0] != '/')
        return -1;
    char path[16 + PYSHIM_SEGMENT_NAME_MAX] = "/dev/shm";
    shim_memcpy(path + 8, name, len + 1);
    long fd = RAW3(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        *own = 1;
        return fd;
    }
    for (int i = 0; i < SHIM_MAX_KEPT; i++)
        if (kept[i].fd > 0 && shim_strncmp(kept[i].name, name, len + 1) == 0)
            return kept[i].fd;
    return -1;
}

size_t shim_maps_kept_text(char *out, size_t cap)
{
    size_t n = 0;
    for (int k = 0; k < SHIM_MAX_KEPT; k++) {
        if (kept[k].fd <= 0)
            continue;
        size_t len = shim_strlen(kept[k].name);
        if (n + len + 24 >= cap)
            break;
        if (n)
            out[n++] = ',';
        shim_memcpy(out + n, kept[k].name, len);
        n += len;
        out[n++] = '=';
        n += shim_utoa(out + n, (uint64_t)kept[k].fd);
    }
    out[n] = 0;
    return n;
}

void shim_maps_adopt(const char *text)
{
    int k = 0;
    while (text && *text && k < SHIM_MAX_KEPT) {
        size_t len = 0;
        while (text[len] && text[len] != '=' && len + 1 < PYSHIM_SEGMENT_NAME_MAX)
            len++;
        if (text[len] != '=' || text[0] != '/')
            return;
        const char *p = text + len + 1;
        uint64_t fd;
        if (parse_u64(&p, &fd) || fd == 0 || fd > 0x7fffffff)
            return;
        struct stat st;
        if (RAW2(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode)) {
            shim_memcpy(kept[k].name, text, len);
            kept[k].name[len] = 0;
            kept[k].fd = (int32_t)fd;
            k++;
        }
        text = *p == ',' ? p + 1 : p;
        if (*p != ',')
            return;
    }
}

static int parse_u64(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    *out = v;
    *p = s;
    return 0;
}

/* Parses "<segment>:<offset>:<size>".  Contract: `text` is NUL-terminated. */
int shim_parse_desc(const char *text, struct pyshim_block_desc *out)
{
    shim_memset(out, 0, sizeof *out);
    size_t i = 0;
    while (text[i] && text[i] != ':') {
        if (i + 1 >= PYSHIM_SEGMENT_NAME_MAX)
            return -1;
        out->segment[i] = text[i];
        i++;
    }
    if (text[i] != ':')
        return -1;
    const char *p = text + i + 1;
    if (parse_u64(&p, &out->offset) || *p++ != ':' || parse_u64(&p, &out->size) || *p)
        return -1;
    return 0;
}

void shim_maps_after_fork(void)
{
    /* Stored only when set (a thread of the parent held it): a write would
     * copy the page for nothing in every fork child (copy-on-write). */
    if (__atomic_load_n(&maps_lock, __ATOMIC_RELAXED))
        __atomic_store_n(&maps_lock, 0, __ATOMIC_RELEASE);
}
