/* Scribbles an invalid event into its own channel, as a buggy or hostile
 * program could, then waits to be stopped by the supervisor. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pyshim_ipc.h"

int main(void)
{
    const char *desc = getenv(PYSHIM_ENV_CHANNEL);
    if (!desc)
        return 2;
    char seg[64];
    unsigned long off = 0, size = 0;
    if (sscanf(desc, "%63[^:]:%lu:%lu", seg, &off, &size) != 3)
        return 2;
    char path[96];
    snprintf(path, sizeof path, "/dev/shm%s", seg);
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return 2;
    char *base = mmap(0, off + size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED)
        return 2;
    struct pyshim_channel *ch = (struct pyshim_channel *)(base + off);
    ch->event.tag = 0xdead;
    __atomic_store_n(&ch->state, PYSHIM_CH_EVENT, __ATOMIC_SEQ_CST);
    for (;;)
        pause();
}
