/* pidns [vfork]: moves its children's pid namespace (unshare(CLONE_NEWUSER |
 * CLONE_NEWPID)), execs itself, and forks (or vforks and execs a shell): the
 * child is the new namespace's first process, pid 1 there.  Prints what
 * the child saw and how it ended; exits 0 if all went as natively. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc < 2 || strcmp(argv[1], "after-exec")) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWPID)) {
            perror("unshare");
            return 2;
        }
        char *args[] = {argv[0], "after-exec", argc > 1 ? argv[1] : 0, 0};
        execv(argv[0], args);
        perror("execv");
        return 2;
    }
    int by_vfork = argc > 2 && !strcmp(argv[2], "vfork");
    pid_t child = by_vfork ? vfork() : fork();
    if (child < 0) {
        perror("fork");
        return 2;
    }
    if (child == 0 && by_vfork) {
        execl("/bin/sh", "sh", "-c", "echo child: pid $$ in its namespace; exit 3", (char *)0);
        _exit(2);
    }
    if (child == 0) {
        printf("child: pid %d in its namespace\n", getpid());
        _exit(3);
    }
    int status;
    if (waitpid(child, &status, 0) != child)
        return 2;
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
