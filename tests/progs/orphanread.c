/* orphanread: a child blocks in read on a pipe; its parent exits (under
 * pyshim the shim's parent-death signal then reaches the child); a second
 * child, which holds the pipe's other end, closes it once the reader has
 * taken that signal and waits in read again (or has ended).  The reader
 * prints what read returned: 0 (end of file), as natively, where nothing
 * interrupts it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether `pid` waits in read (syscall 0) with no SIGSYS pending, or is
 * gone. */
static int settled(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    int pending = 0;
    while (fgets(buf, sizeof buf, f)) {
        if (!strncmp(buf, "State:", 6) && (strstr(buf, "zombie") || strstr(buf, "dead"))) {
            fclose(f);
            return 1;
        }
        if (!strncmp(buf, "SigPnd:", 7) || !strncmp(buf, "ShdPnd:", 7))
            pending |= (strtoull(buf + 7, 0, 16) >> 30) & 1; /* SIGSYS is 31 */
    }
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 1;
    int in_read = fgets(buf, sizeof buf, f) && !strncmp(buf, "0 ", 2);
    fclose(f);
    return !pending && in_read;
}

int main(void)
{
    pid_t parent = getpid();
    int p[2];
    if (pipe(p))
        return 1;
    pid_t reader = fork();
    if (reader == 0) {
        close(p[1]);
        char c;
        ssize_t r = read(p[0], &c, 1);
        printf("read: %zd%s%s\n", r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
        return 0;
    }
    if (fork() == 0) {
        close(p[0]);
        while (getppid() == parent) /* the reader's parent is gone too */
            usleep(1000);
        while (!settled(reader))
            usleep(1000);
        close(p[1]);
        return 0;
    }
    close(p[0]);
    close(p[1]);
    /* Exits once the reader waits in read. */
    while (1) {
        char path[64], buf[64];
        snprintf(path, sizeof path, "/proc/%d/syscall", (int)reader);
        FILE *f = fopen(path, "r");
        int in_read = f && fgets(buf, sizeof buf, f) && !strncmp(buf, "0 ", 2);
        if (f)
            fclose(f);
        if (in_read)
            return 0;
        usleep(1000);
    }
}
