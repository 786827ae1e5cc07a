/* Fills its red zone and the callee-saved registers with patterns, makes a
 * raw clone (fork, or a thread on its own stack), and checks in parent and
 * child that nothing changed and that the child's stack is aligned. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILL(off) "movq %%r8, -" #off "(%%rsp)\n"
#define SAME(off) "cmpq %%r8, -" #off "(%%rsp)\n jne 1f\n"
#define PATTERNS                                  \
    "movabs $0x5a5a5a5a5a5a5a5a, %%r8\n"          \
    FILL(8) FILL(16) FILL(32) FILL(64) FILL(96) FILL(128) \
    "movabs $0x0102030405060708, %%rbx\n"         \
    "movabs $0x1112131415161718, %%r12\n"         \
    "movabs $0x2122232425262728, %%r13\n"         \
    "movabs $0x3132333435363738, %%r14\n"         \
    "movabs $0x4142434445464748, %%r15\n"
#define CHECKS                                    \
    "xorl %k[bad], %k[bad]\n"                     \
    "movabs $0x5a5a5a5a5a5a5a5a, %%r8\n"          \
    "movabs $0x0102030405060708, %%rdx\n cmpq %%rdx, %%rbx\n jne 1f\n" \
    "movabs $0x1112131415161718, %%rdx\n cmpq %%rdx, %%r12\n jne 1f\n" \
    "movabs $0x2122232425262728, %%rdx\n cmpq %%rdx, %%r13\n jne 1f\n" \
    "movabs $0x3132333435363738, %%rdx\n cmpq %%rdx, %%r14\n jne 1f\n" \
    "movabs $0x4142434445464748, %%rdx\n cmpq %%rdx, %%r15\n jne 1f\n"

static int fork_case(void)
{
    long pid, bad;
    __asm__ volatile(PATTERNS
                     "movl $57, %%eax\n syscall\n" /* fork */
                     "movq %%rax, %[pid]\n"
                     CHECKS
                     SAME(8) SAME(16) SAME(32) SAME(64) SAME(96) SAME(128)
                     "jmp 2f\n"
                     "1: movl $1, %k[bad]\n"
                     "2:\n"
                     : [pid] "=&r"(pid), [bad] "=&r"(bad)
                     :
                     : "rax", "rcx", "rdx", "r8", "r11", "rbx", "r12", "r13", "r14", "r15",
                       "memory");
    if (pid == 0)
        _exit(bad ? 1 : 0);
    int status;
    waitpid(pid, &status, 0);
    printf("fork: parent %s, child %s\n", bad ? "clobbered" : "intact",
           WEXITSTATUS(status) ? "clobbered" : "intact");
    return 0;
}

/* Globals, not locals: the child addresses them with its own rsp. */
static volatile int child_bad = -1;
static char stack[65536] __attribute__((aligned(16)));
static char *child_sp = stack + sizeof stack;
static long child_tid;

static int thread_case(void)
{
    long bad;
    unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                          CLONE_SYSVSEM;
    __asm__ volatile(PATTERNS
                     "movq %[flags], %%rdi\n"
                     "movq %[sp], %%rsi\n"
                     "xorl %%edx, %%edx\n xorl %%r10d, %%r10d\n xorl %%r8d, %%r8d\n"
                     "movl $56, %%eax\n syscall\n" /* clone */
                     "movq %%rax, %[tid]\n"
                     CHECKS
                     "testq %%rax, %%rax\n jz 3f\n" /* the child checks its own stack */
                     SAME(8) SAME(16) SAME(32) SAME(64) SAME(96) SAME(128)
                     "jmp 2f\n"
                     "3: testq $15, %%rsp\n jnz 1f\n cmpq %[sp], %%rsp\n jne 1f\n"
                     "movl $0, %[child_bad]\n jmp 4f\n"
                     "1: testq %%rax, %%rax\n jz 5f\n movl $1, %k[bad]\n jmp 2f\n"
                     "5: movl $1, %[child_bad]\n"
                     "4: movl $60, %%eax\n xorl %%edi, %%edi\n syscall\n" /* exit the thread */
                     "2:\n"
                     : [tid] "=m"(child_tid), [bad] "=&r"(bad), [child_bad] "=m"(child_bad)
                     : [flags] "m"(flags), [sp] "m"(child_sp)
                     : "rax", "rcx", "rdx", "rdi", "rsi", "r8", "r10", "r11", "rbx", "r12", "r13",
                       "r14", "r15", "memory");
    while (child_bad < 0)
        sched_yield();
    printf("thread: parent %s, child %s\n", bad ? "clobbered" : "intact",
           child_bad ? "clobbered" : "intact");
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc > 1 && !strcmp(argv[1], "thread"))
        return thread_case();
    return fork_case();
}
