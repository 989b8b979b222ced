/*
 * syscall_probe NAME...: make one raw system call per NAME, from inside a
 * container, and print "NAME ok" or "NAME errno N". Busybox has no applet
 * for most of these (keyctl, bpf, perf_event_open), and a raw call is what
 * a seccomp filter sees. Built statically by the tests, bind-mounted into
 * the pod with a hostPath volume. Exit status: 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static long call(const char *name)
{
    if (!strcmp(name, "unshare-user"))
        return unshare(CLONE_NEWUSER);
    if (!strcmp(name, "unshare-ns"))
        return unshare(CLONE_NEWNS);
    if (!strcmp(name, "clone-newuser")) {
        /* clone(2) with a namespace flag: the filter's masked argument check */
        long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0)
            _exit(0);
        return pid > 0 ? 0 : -1;
    }
    if (!strcmp(name, "keyctl")) /* KEYCTL_GET_KEYRING_ID of the user keyring */
        return syscall(SYS_keyctl, 0, -4, 0);
    if (!strcmp(name, "add_key"))
        return syscall(SYS_add_key, "user", "probe", "secret", 6, -2);
    if (!strcmp(name, "bpf")) { /* BPF_MAP_CREATE with a zeroed attribute */
        char attr[128] = {0};
        return syscall(SYS_bpf, 0, attr, sizeof attr);
    }
    if (!strcmp(name, "perf_event_open")) {
        char attr[128] = {0};
        return syscall(SYS_perf_event_open, attr, 0, -1, -1, 0);
    }
    if (!strcmp(name, "mount"))
        return mount("none", "/tmp", "tmpfs", 0, NULL);
    if (!strcmp(name, "socket-vsock"))
        return socket(AF_VSOCK, SOCK_STREAM, 0);
    if (!strcmp(name, "socket-inet"))
        return socket(AF_INET, SOCK_STREAM, 0);
    if (!strcmp(name, "personality-query"))
        return personality(0xffffffff) == -1 ? -1 : 0;
    if (!strcmp(name, "personality-other"))
        return personality(0x0040000) == -1 ? -1 : 0; /* ADDR_COMPAT_LAYOUT */
    if (!strcmp(name, "init_module"))
        return syscall(SYS_init_module, NULL, 0, "");
    if (!strncmp(name, "setns:", 6)) { /* setns:/proc/1/ns/mnt */
        int fd = open(name + 6, O_RDONLY);
        return fd < 0 ? -1 : setns(fd, 0);
    }
    if (!strncmp(name, "ptrace:", 7)) /* ptrace:PID, PTRACE_ATTACH */
        return ptrace(PTRACE_ATTACH, atoi(name + 7), 0, 0);
    if (!strcmp(name, "sethostname"))
        return sethostname("escaped", 7);
    errno = ENOSYS;
    return -2;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        errno = 0;
        long r = call(argv[i]);
        if (r == -2)
            printf("%s unknown\n", argv[i]);
        else if (r < 0)
            printf("%s errno %d\n", argv[i], errno);
        else
            printf("%s ok\n", argv[i]);
    }
    return 0;
}
