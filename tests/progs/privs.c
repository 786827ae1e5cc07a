/* Prints whether the process runs with no_new_privs (a setuid program it
 * execs would not gain privileges). */
#include <stdio.h>
#include <sys/prctl.h>

int main(void)
{
    printf("no_new_privs: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    return 0;
}
