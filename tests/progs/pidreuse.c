/* A dead child's pid given to a new child within one run: the kernel is
 * made to reuse it (through /proc/sys/kernel/ns_last_pid, as on a machine
 * whose pid_max wraps around during a long run).  The first child is
 * killed (no exit call tells the supervisor it is gone); the new one lives
 * on for 100 ms, long enough for the supervisor to notice the first one's
 * death meanwhile (that is what the pause is for: the outcome must not
 * depend on it), makes calls, forks a child of its own and exits 7. */
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

static int new_child(void)
{
    struct timespec pause = {0, 100000000};
    nanosleep(&pause, 0);
    for (int i = 0; i < 50; i++)
        getppid();
    pid_t g = fork();
    if (g == 0)
        _exit(3);
    int st;
    waitpid(g, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 3 ? 7 : 1;
}

int main(void)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        pid_t a = fork();
        if (a == 0)
            for (;;)
                pause();
        kill(a, SIGKILL);
        waitpid(a, 0, 0);
        int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
        if (fd < 0) {
            printf("cannot set ns_last_pid: %s\n", strerror(errno));
            return 2;
        }
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%d", (int)a - 1);
        if (write(fd, buf, (size_t)n) != n) {
            printf("cannot set ns_last_pid: %s\n", strerror(errno));
            return 2;
        }
        close(fd);
        pid_t b = fork();
        if (b == 0)
            _exit(new_child());
        int st;
        waitpid(b, &st, 0);
        if (b == a) { /* else another process took the pid first: again */
            printf("pid reused; the new child exited %d\n", WEXITSTATUS(st));
            return 0;
        }
    }
    printf("pid never reused\n");
    return 1;
}
