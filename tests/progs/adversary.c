/* A hostile (or unlucky) program: it opens its own run's shared memory, as
 * any program of the same user can, and does one kind of damage to it, then
 * makes ordinary calls and exits 0 if it is still alive.
 *
 *   adversary MODE SEED
 *
 * MODE:
 *   channel   random bytes over its own channel
 *   event     a forged event (random tag, pid, number, arguments), marked ready
 *   slab      random bytes over every block of its channel's slab
 *   control   random bytes over the run's control block
 *   flip      between calls, random bytes of its channel flipped, 200 times
 *   truncate  its channel's segment truncated to 0 bytes, then a spin with
 *             no syscall (only the supervisor touches the segment again);
 *             the first thread's channel is in segment 0, the control
 *             block's (ipc/pyshim_ipc.h)
 *   truncate-calls  the same, then calls (which fault in the program)
 *   shrink    its channel's segment shrunk to a random smaller size
 *   truncate-control  the control segment truncated to 0 bytes, then a spin
 *   truncate-slab  64 threads started (the last one's channel is in the
 *             run's second segment), then that segment truncated, then a spin
 *   unmap     the shim's own mappings of the run's segments unmapped
 *   postdie   a child forges an event on its channel and is killed at once
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyshim_ipc.h"
#include "pyshim_ready.h"

static uint64_t rng;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void scribble(void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)p)[i] = (unsigned char)next();
}

/* Opens /dev/shm<name> read-write; its size goes to *size. */
static int open_segment(const char *name, size_t *size)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    int fd = open(path, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(path);
        exit(2);
    }
    *size = (size_t)st.st_size;
    return fd;
}

static void *map_segment(int fd, size_t size)
{
    void *p = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    return p;
}

/* A waiting thread: it says it runs (its write went through its shim, on
 * its own channel), then blocks for good. */
static int ready_pipe[2], block_pipe[2];

static void *waiter(void *arg)
{
    char b = 1;
    (void)arg;
    (void)!write(ready_pipe[1], &b, 1);
    (void)!read(block_pipe[0], &b, 1);
    return 0;
}

/* Starts `n` waiting threads; returns once every one of them runs. */
static void start_waiters(int n)
{
    if (pipe(ready_pipe) < 0 || pipe(block_pipe) < 0)
        exit(2);
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, 0, waiter, 0))
            exit(2);
    }
    char b;
    for (int i = 0; i < n; i++)
        if (read(ready_pipe[0], &b, 1) != 1)
            exit(2);
}

/* Ordinary work after the damage: the calls a program makes. */
static int calls(void)
{
    for (int i = 0; i < 100; i++)
        if (getppid() < 0)
            return 3;
    printf("alive\n");
    return 0;
}

static void forge(struct pyshim_channel *ch, struct pyshim_control *ctl, int random_pid)
{
    struct pyshim_event ev;
    scribble(&ev, sizeof ev);
    ev.tag = (uint32_t)(next() % 7);
    ev.version = PYSHIM_PROTOCOL_VERSION;
    ev.pid = random_pid ? (int32_t)next() : getpid();
    ev.nr = (int64_t)(next() % 700) - 50;
    memcpy(&ch->event, &ev, sizeof ev);
    __atomic_store_n(&ch->state, PYSHIM_CH_EVENT, __ATOMIC_SEQ_CST);
    if (ctl)
        pyshim_ready_mark(ctl, ch->index % PYSHIM_READY_CAPACITY);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: adversary MODE SEED\n");
        return 2;
    }
    const char *mode = argv[1];
    rng = strtoull(argv[2], 0, 0) * 2654435761u + 88172645463325252ull;
    const char *desc = getenv(PYSHIM_ENV_CHANNEL);
    char seg[64];
    unsigned long off = 0, bsize = 0;
    if (!desc || sscanf(desc, "%63[^:]:%lu:%lu", seg, &off, &bsize) != 3) {
        fprintf(stderr, "adversary: not supervised\n");
        return 2;
    }
    size_t slab_size, ctl_size;
    int slab_fd = open_segment(seg, &slab_size);
    char *slab = map_segment(slab_fd, slab_size);
    struct pyshim_channel *ch = (struct pyshim_channel *)(slab + off);
    char ctl_name[PYSHIM_SEGMENT_NAME_MAX];
    memcpy(ctl_name, ch->control.segment, sizeof ctl_name);
    ctl_name[sizeof ctl_name - 1] = 0;
    int ctl_fd = open_segment(ctl_name, &ctl_size);
    struct pyshim_control *ctl = map_segment(ctl_fd, ctl_size);
    /* The blocks of its channel's slab start after the control block when
     * they share segment 0. */
    size_t first = strcmp(seg, ctl_name) ? 0 : PYSHIM_FIRST_SLAB_OFFSET;
    if (first > slab_size || ctl_size < PYSHIM_FIRST_SLAB_OFFSET) {
        fprintf(stderr, "adversary: segment 0 has no slab\n");
        return 2;
    }

    if (!strcmp(mode, "channel")) {
        scribble(ch, bsize);
    } else if (!strcmp(mode, "event")) {
        forge(ch, ctl, next() & 1);
    } else if (!strcmp(mode, "slab")) {
        scribble(slab + first, slab_size - first);
    } else if (!strcmp(mode, "control")) {
        scribble(ctl, PYSHIM_FIRST_SLAB_OFFSET);
    } else if (!strcmp(mode, "flip")) {
        for (int i = 0; i < 200; i++) {
            getppid();
            ((unsigned char *)ch)[next() % bsize] ^= (unsigned char)(1u << (next() % 8));
        }
    } else if (!strcmp(mode, "truncate")) {
        if (ftruncate(slab_fd, 0) < 0)
            return 2;
        for (;;)
            __asm__ volatile("pause");
    } else if (!strcmp(mode, "truncate-calls")) {
        if (ftruncate(slab_fd, 0) < 0)
            return 2;
    } else if (!strcmp(mode, "shrink")) {
        if (ftruncate(slab_fd, (off_t)(next() % slab_size)) < 0)
            return 2;
    } else if (!strcmp(mode, "truncate-control")) {
        if (ftruncate(ctl_fd, 0) < 0)
            return 2;
        for (;;)
            __asm__ volatile("pause");
    } else if (!strcmp(mode, "truncate-slab")) {
        /* With the first thread's, slab 0 holds 64 channels: the 64th new
         * thread's is the first block of segment 1 ("/pyshim-<run>-1"). */
        start_waiters(PYSHIM_SLAB_BLOCKS);
        char name[PYSHIM_SEGMENT_NAME_MAX];
        size_t len = strlen(ctl_name), size;
        if (len < 2 || strcmp(ctl_name + len - 2, "-0"))
            return 2;
        memcpy(name, ctl_name, len + 1);
        name[len - 1] = '1';
        if (ftruncate(open_segment(name, &size), 0) < 0)
            return 2;
        for (;;)
            __asm__ volatile("pause");
    } else if (!strcmp(mode, "unmap")) {
        /* Every mapping of a pyshim segment but the two made above. */
        FILE *maps = fopen("/proc/self/maps", "r");
        char line[512];
        uintptr_t lo[16], hi[16];
        int n = 0;
        while (maps && n < 16 && fgets(line, sizeof line, maps))
            if (strstr(line, "/dev/shm/pyshim-") &&
                sscanf(line, "%lx-%lx", &lo[n], &hi[n]) == 2 &&
                lo[n] != (uintptr_t)slab && lo[n] != (uintptr_t)ctl)
                n++;
        if (maps)
            fclose(maps);
        for (int i = 0; i < n; i++)
            munmap((void *)lo[i], hi[i] - lo[i]);
    } else if (!strcmp(mode, "postdie")) {
        int ready[2];
        if (pipe(ready) < 0)
            return 2;
        pid_t child = fork();
        if (child == 0) {
            /* The child's channel is the block its Start named: find it by
             * its pid among the blocks of the segment. */
            for (size_t o = first; o + sizeof *ch <= slab_size; o += PYSHIM_BLOCK_SIZE) {
                struct pyshim_channel *c = (struct pyshim_channel *)(slab + o);
                if (c->magic == PYSHIM_CHANNEL_MAGIC && c->event.pid == getpid() && c != ch) {
                    forge(c, ctl, 0);
                    break;
                }
            }
            char b = 1;
            (void)!write(ready[1], &b, 1);
            for (;;)
                pause();
        }
        /* Ready, or dead: a child whose shim stops it for what it forged
         * never writes, and the pipe's end then reads EOF. */
        close(ready[1]);
        char b;
        (void)!read(ready[0], &b, 1);
        kill(child, SIGKILL);
        waitpid(child, 0, 0);
    } else {
        fprintf(stderr, "adversary: unknown mode %s\n", mode);
        return 2;
    }
    return calls();
}
