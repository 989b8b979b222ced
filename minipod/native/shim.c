/*
 * minipod-shim: the two tiny processes that keep a pod alive without the
 * daemon. It plays the roles podman gives to catatonit and conmon, in one
 * small binary (well under 1 MiB of memory per process) so a pod costs
 * almost nothing while it runs and survives a daemon restart.
 *
 *   minipod-shim init
 *       The pod's PID 1. minipod's sandbox code creates the pod's
 *       namespaces and execs this as the first process inside them. It
 *         1. holds the pod's net, IPC, UTS, pid and mount namespaces open
 *            (a namespace lives as long as one process is in it);
 *         2. reaps every orphan of the pod's pid namespace, so a container
 *            that forgets its children leaves no zombies (the kernel
 *            reparents orphans to the namespace's PID 1, pid_namespaces(7));
 *         3. exits on SIGTERM or SIGINT; the daemon uses SIGKILL, which
 *            the kernel turns into a kill of every process in the namespace.
 *
 *   minipod-shim monitor PID EXITFILE [--hold FD] [--pty FD LOGFD]
 *       One per container, outside the pod's pid namespace. minipod's
 *       container launcher forks the container process (PID) and then
 *       execs this in its own place, so the monitor is the container's
 *       parent and the only process that can collect its exit status. It
 *         1. waits for PID to exit (SIGCHLD through a signalfd);
 *         2. meanwhile copies the container's terminal (--pty master) into
 *            its log file, and keeps the write end of its stdin pipe
 *            (--hold) open, so a `stdin: true` container is not given EOF;
 *         3. writes EXITFILE atomically (tmp + fsync + rename) as JSON:
 *            {"exitCode": N, "signal": S, "finishedAt": "RFC 3339"}
 *            and exits. The daemon learns of the exit from a pidfd on the
 *            monitor, and reads the file, even after its own restart.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "minipod-shim: %s: %s\n", what, strerror(errno));
    exit(127);
}

/* Block every signal and return a signalfd for the ones we act on. A
 * blocked SIGTERM cannot interrupt us half-way through writing a file. */
static int block_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    if (sigprocmask(SIG_BLOCK, &all, NULL) < 0)
        die("sigprocmask");
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGCHLD);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGINT);
    int fd = signalfd(-1, &wanted, SFD_CLOEXEC);
    if (fd < 0)
        die("signalfd");
    return fd;
}

static int init_main(void)
{
    int sfd = block_signals();
    for (;;) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != sizeof si) {
            if (errno == EINTR)
                continue;
            die("read(signalfd)");
        }
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            return 0;
        /* SIGCHLD: several children may have exited for one signal. */
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
}

static void write_exit_file(const char *path, int status)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

    int code = 0, sig = 0;
    if (WIFEXITED(status))
        code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) {
        sig = WTERMSIG(status);
        code = 128 + sig; /* what a shell, Docker and the kubelet report */
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        die(tmp);
    fprintf(f, "{\"exitCode\": %d, \"signal\": %d, \"finishedAt\": \"%s.%09ldZ\"}\n",
            code, sig, when, now.tv_nsec);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    if (rename(tmp, path) < 0)
        die(path);
}

/* Copy what the container wrote to its terminal into the log file. */
static void drain_pty(int master, int log)
{
    char buf[8192];
    ssize_t n;
    while ((n = read(master, buf, sizeof buf)) > 0)
        if (write(log, buf, (size_t)n) < 0)
            break;
}

static int monitor_main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: minipod-shim monitor PID EXITFILE [--hold FD] [--pty FD LOGFD]\n");
        return 2;
    }
    pid_t child = (pid_t)atoi(argv[2]);
    const char *exit_file = argv[3];
    int master = -1, log = -1;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
            i++; /* nothing to do: keeping the fd open is the whole job */
        else if (strcmp(argv[i], "--pty") == 0 && i + 2 < argc) {
            master = atoi(argv[++i]);
            log = atoi(argv[++i]);
        }
    }
    int sfd = block_signals();
    struct pollfd fds[2] = {{.fd = sfd, .events = POLLIN}, {.fd = master, .events = POLLIN}};
    int status = 0;
    for (;;) {
        /* The child may have exited before we were exec'd: check first. */
        pid_t r = waitpid(child, &status, WNOHANG);
        if (r == child)
            break;
        if (r < 0 && errno == ECHILD) {
            status = 255 << 8; /* not our child: nothing real to report */
            break;
        }
        if (poll(fds, master >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
            die("poll");
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) < 0 && errno != EAGAIN)
                die("read(signalfd)");
        }
        if (master >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[8192];
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) {
                if (write(log, buf, (size_t)n) < 0) { /* keep the container running */ }
            } else {
                fds[1].fd = -1; /* EIO: every slave fd is closed */
            }
        }
    }
    if (master >= 0 && fds[1].fd >= 0) {
        fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
        drain_pty(master, log);
    }
    write_exit_file(exit_file, status);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "init") == 0)
        return init_main();
    if (argc >= 2 && strcmp(argv[1], "monitor") == 0)
        return monitor_main(argc, argv);
    fprintf(stderr, "usage: minipod-shim init | monitor PID EXITFILE ...\n");
    return 2;
}
