/* vfork_newpid: clone(CLONE_VM | CLONE_VFORK | CLONE_NEWPID), as Go's
 * os/exec does with Cloneflags: the child shares its parent's memory (and
 * shim state) but starts a pid namespace of its own, as its pid 1, and
 * execs a shell that forks.  Prints what the child saw and how it ended. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int child(void *arg)
{
    (void)arg;
    execl("/bin/sh", "sh", "-c", "echo child: pid $$ in its namespace; /bin/true; exit 3",
          (char *)0);
    _exit(2);
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    size_t size = 1 << 20;
    char *stack = malloc(size);
    int flags = CLONE_VM | CLONE_VFORK | CLONE_NEWPID | SIGCHLD;
    if (geteuid() != 0)
        flags |= CLONE_NEWUSER;
    pid_t pid = clone(child, stack + size, flags, 0);
    if (pid < 0) {
        perror("clone");
        return 2;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return 2;
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
