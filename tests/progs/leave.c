/* leave: forks a child that sleeps for 30 s and ends at once, printing
 * "PARENT CHILD" (its pid and the child's): the child is left to whoever
 * reaps orphans. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        sleep(30);
        _exit(0);
    }
    printf("%d %d\n", (int)getpid(), (int)child);
    return 0;
}
