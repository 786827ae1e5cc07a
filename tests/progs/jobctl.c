/* Job control; argv[1] picks who stops.
 *   jobctl child   a child stops itself (SIGSTOP); its parent sees it
 *                  stopped (waitpid WUNTRACED), sends SIGCONT, whose
 *                  handler runs in the child, and sees it exit
 *   jobctl self    the program stops itself; a child it forked first
 *                  waits until /proc shows it stopped and sends SIGCONT
 *   jobctl pause   prints "ready" and waits for a signal (SIGINT and
 *                  SIGTERM keep their default action: they end it) */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t continued;

static void on_cont(int sig)
{
    (void)sig;
    continued = 1;
}

static char state_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *close = strrchr(buf, ')');
    return close && close[1] == ' ' ? close[2] : '?';
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    signal(SIGCONT, on_cont);
    int status;
    if (argc > 1 && !strcmp(argv[1], "pause")) {
        printf("ready\n");
        for (;;)
            pause();
    }
    if (argc > 1 && !strcmp(argv[1], "self")) {
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid == 0) {
            char s;
            while ((s = state_of(parent)) != 'T' && s != 't')
                usleep(1000);
            kill(parent, SIGCONT);
            _exit(0);
        }
        raise(SIGSTOP);
        waitpid(pid, &status, 0);
        printf("continued by my child: %s\n", continued ? "handler ran" : "no handler");
        return 7;
    }
    pid_t pid = fork();
    if (pid == 0) {
        raise(SIGSTOP);
        printf("child continued: %s\n", continued ? "handler ran" : "no handler");
        _exit(5);
    }
    waitpid(pid, &status, WUNTRACED);
    printf("child stopped by %s\n", WIFSTOPPED(status) ? strsignal(WSTOPSIG(status)) : "?");
    kill(pid, SIGCONT);
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
