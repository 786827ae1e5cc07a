/* orphanexec: the run's first process forks A, which asks to be traced
 * (PTRACE_TRACEME: it leaves the run) and, once its parent has ended and
 * the supervisor freed its parent's channel (whose magic, at offset 8 of
 * the block, it watches in /dev/shm), execs a shell with the environment
 * it inherited, which names that channel; and B, which keeps the run going
 * until A's new image has ended (the end of a pipe that image holds),
 * then says so.  The first process exits once A is traced. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

extern char **environ;

/* The magic of the channel PYSHIM_CHANNEL names ("/segment:offset:size"). */
static uint32_t channel_magic(void)
{
    const char *desc = getenv("PYSHIM_CHANNEL");
    char path[256];
    const char *colon = desc ? strchr(desc, ':') : 0;
    if (!colon || (size_t)(colon - desc) > 200)
        return 0;
    snprintf(path, sizeof path, "/dev/shm%.*s", (int)(colon - desc), desc);
    long offset = atol(colon + 1);
    uint32_t magic = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || pread(fd, &magic, sizeof magic, offset + 8) != sizeof magic)
        magic = 0;
    if (fd >= 0)
        close(fd);
    return magic;
}

int main(void)
{
    pid_t parent = getpid();
    int p[2], traced[2];
    if (pipe(p) || pipe(traced))
        return 1;
    if (fork() == 0) {
        close(p[0]);
        /* Traced by its parent, which must still be there (else its
         * adopter, pyshim, would be its tracer). */
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        if (write(traced[1], "t", 1) != 1)
            _exit(126);
        while (getppid() == parent || channel_magic())
            usleep(10000);
        dprintf(2, "A: exec\n");
        char *argv[] = {"/bin/sh", "-c", "echo A: new image runs >&2", 0};
        execve(argv[0], argv, environ); /* p[1] stays open in the new image */
        _exit(127);
    }
    if (fork() == 0) {
        close(p[1]);
        char c;
        while (read(p[0], &c, 1) > 0)
            ;
        dprintf(2, "B: done\n");
        _exit(0);
    }
    char t;
    return read(traced[0], &t, 1) == 1 ? 0 : 1;
}
