/* forktree D: every process above depth D forks two children and waits for
 * them; each exits with the size of its subtree, and each child checks that
 * getppid() names its real parent. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int grow(int depth)
{
    if (depth == 0)
        return 1;
    int size = 1;
    for (int i = 0; i < 2; i++) {
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
            return -1000;
        if (pid == 0)
            _exit(getppid() == parent ? grow(depth - 1) : 255);
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) == 255)
            return -1000;
        size += WEXITSTATUS(status);
    }
    return size;
}

int main(int argc, char **argv)
{
    int size = grow(argc > 1 ? atoi(argv[1]) : 3);
    printf("processes: %d\n", size);
    return size > 0 ? 0 : 1;
}
