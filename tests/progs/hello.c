#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    printf("hello\n");
    return argc > 1 ? atoi(argv[1]) : 0;
}
