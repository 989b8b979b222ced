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
 *   minipod-shim monitor PID EXITFILE [--hold FD] [--relay FD]
 *                        [--log PATH LOGFD MAXSIZE MAXFILES] [--times TPATH]
 *                        [--stdin-once] [--stdin FIFO TOFD] [--stderr FD --cri]
 *       One per container, outside the pod's pid namespace. minipod's
 *       container launcher forks the container process (PID) and then
 *       execs this in its own place, so the monitor is the container's
 *       parent and the only process that can collect its exit status. It
 *         1. waits for PID to exit (SIGCHLD through a signalfd);
 *         2. meanwhile copies the container's output (--relay: the read end
 *            of its stdout/stderr pipe, or its terminal's master) into its
 *            log file, rotating it as the kubelet does: past MAXSIZE bytes
 *            PATH becomes PATH.1 (PATH.1 becomes PATH.2, ...), at most
 *            MAXFILES files in all, the oldest removed. It cuts at a line's
 *            end when it can, loses nothing, and never waits on a reader;
 *            with --times, each piece written is marked in TPATH (rotated
 *            with PATH) by a record of two native int64: the piece's offset
 *            in PATH and the wall clock in ns, what the kubelet's CRI log
 *            lines carry, so `logs --timestamps` and `--since` can answer;
 *            it keeps the write end of the stdin pipe (--hold) open, so a
 *            `stdin: true` container is not given EOF; with --stdin, what
 *            is written into FIFO (by `kubectl attach -i`, through the
 *            daemon) goes on to TOFD: that pipe, or the terminal's master;
 *            with --stdin-once (stdinOnce), the first attach's end closes
 *            TOFD: the container reads EOF, as with the kubelet;
 *            with --cri (a log path the kubelet chose), stdout and stderr
 *            come apart (--relay, --stderr) and every line goes to PATH in
 *            the CRI log format (cri_log.c), with no rotation of ours;
 *            SIGUSR1 reopens PATH (the kubelet rotated it: ReopenContainerLog);
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cri_log.h"

/* Where a monitor writes its own failure: EXITFILE.error. Its stderr is
 * /dev/null (it outlives every terminal), so without this file a monitor
 * that cannot write its exit file would vanish without a word, and the
 * user would see only "exited without a status". */
static char error_file[4096];

static void die(const char *what)
{
    int err = errno;
    char msg[4352];
    int n = snprintf(msg, sizeof msg, "minipod-shim: %s: %s\n", what, strerror(err));
    fputs(msg, stderr);
    if (error_file[0] && n > 0) {
        int fd = open(error_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (write(fd, msg, (size_t)n) < 0) { /* nowhere left to say it */ }
            fsync(fd);
            close(fd);
        }
    }
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
    sigaddset(&wanted, SIGUSR1); /* a monitor: reopen the log (the CRI's ReopenContainerLog) */
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
    char tmp[4096], what[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(what, sizeof what, "writing the exit status (%d): open %s", code, tmp);
        die(what);
    }
    fprintf(f, "{\"exitCode\": %d, \"signal\": %d, \"finishedAt\": \"%s.%09ldZ\"}\n",
            code, sig, when, now.tv_nsec);
    fflush(f);
    fsync(fileno(f));
    fclose(f);
    if (rename(tmp, path) < 0) {
        snprintf(what, sizeof what, "writing the exit status (%d): rename %s", code, path);
        die(what);
    }
}

/* The container's log file and its rotation (--log). */
struct log {
    const char *path; /* NULL: no rotation, just write to fd */
    int fd;
    long long size, max_size;
    int max_files;
    /* The end of the output that is not a whole line yet. It waits here for
     * its newline (or PEND_WAIT_MS of quiet), so that rotation, which cuts
     * at line ends, never leaves a file ending in half a line. */
    char pend[8192];
    size_t pend_len;
    const char *times_path; /* NULL: no time marks (--times) */
    int times_fd;
};

#define PEND_WAIT_MS 500

static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* a full disk must not stop the container: drop, go on */
        buf += w;
        n -= (size_t)w;
    }
}

/* Mark the piece about to be written at offset lg->size: before the data,
 * so a reader that sees the data finds its mark. */
static void times_mark(struct log *lg)
{
    if (lg->times_fd < 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long rec[2] = {lg->size, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec};
    write_all(lg->times_fd, (const char *)rec, sizeof rec);
}

/* PATH -> PATH.1 -> PATH.2 ... up to MAXFILES-1 rotated files, then a new
 * PATH. Returns the new file's fd, or -1 (keep writing where we are). */
static int rotate_file(const char *path, int max_files)
{
    char from[4200], to[4200];
    snprintf(to, sizeof to, "%s.%d", path, max_files - 1);
    unlink(to);
    for (int k = max_files - 2; k >= 1; k--) {
        snprintf(from, sizeof from, "%s.%d", path, k);
        snprintf(to, sizeof to, "%s.%d", path, k + 1);
        rename(from, to); /* ENOENT: fewer rotations so far */
    }
    snprintf(to, sizeof to, "%s.1", path);
    if (rename(path, to) < 0)
        return -1;
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

/* The log and its time marks rotate together. A reader that follows the
 * log finds the new file by its path. */
static void rotate(struct log *lg)
{
    int fd = rotate_file(lg->path, lg->max_files);
    if (fd < 0)
        return;
    close(lg->fd);
    lg->fd = fd;
    lg->size = 0;
    if (lg->times_fd >= 0) {
        int tfd = rotate_file(lg->times_path, lg->max_files);
        close(lg->times_fd);
        lg->times_fd = tfd;
    }
}

/* Append to the log; rotate first when the chunk would pass MAXSIZE,
 * cutting after the last newline that still fits. */
static void log_write(struct log *lg, const char *buf, size_t n)
{
    while (lg->path && n > 0 && lg->size + (long long)n > lg->max_size) {
        size_t room = lg->size < lg->max_size ? (size_t)(lg->max_size - lg->size) : 0;
        size_t cut = 0;
        for (size_t i = room; i > 0; i--)
            if (buf[i - 1] == '\n') {
                cut = i;
                break;
            }
        if (cut == 0 && lg->size == 0)
            cut = room > 0 ? room : n; /* one line longer than MAXSIZE: split it */
        if (cut > 0)
            times_mark(lg);
        write_all(lg->fd, buf, cut);
        lg->size += (long long)cut;
        buf += cut;
        n -= cut;
        rotate(lg);
    }
    if (n > 0)
        times_mark(lg);
    write_all(lg->fd, buf, n);
    lg->size += (long long)n;
}

/* Write what waits for its newline, as it is: the container went quiet
 * mid-line (a prompt) or exited. */
static void log_flush(struct log *lg)
{
    if (lg->pend_len > 0)
        log_write(lg, lg->pend, lg->pend_len);
    lg->pend_len = 0;
}

/* Take a chunk of the container's output: whole lines go to the log now,
 * a trailing partial line waits in lg->pend for the rest of it. */
static void log_take(struct log *lg, const char *buf, size_t n)
{
    static char joined[sizeof ((struct log *)0)->pend + 65536];
    if (!lg->path) { /* no rotation: nothing to keep whole */
        log_write(lg, buf, n);
        return;
    }
    if (lg->pend_len + n > sizeof joined)
        log_flush(lg);
    memcpy(joined + lg->pend_len, buf, n);
    if (lg->pend_len > 0)
        memcpy(joined, lg->pend, lg->pend_len);
    size_t total = lg->pend_len + n, whole = total;
    lg->pend_len = 0;
    while (whole > 0 && joined[whole - 1] != '\n')
        whole--;
    if (total - whole <= sizeof lg->pend) { /* else: one huge line, split it */
        memcpy(lg->pend, joined + whole, total - whole);
        lg->pend_len = total - whole;
        total = whole;
    }
    log_write(lg, joined, total);
}

/* One stream's output into the log: minipod's own format, or with --cri
 * the CRI's (cri_log.c). N == 0: the end of it. */
static struct cri_stream *cri_out, *cri_err;
static void take(struct log *lg, struct cri_stream *cs, const char *buf, ssize_t n)
{
    if (cs && n > 0)
        cri_take(cs, lg->fd, buf, (size_t)n);
    else if (cs)
        cri_flush(cs, lg->fd);
    else if (n > 0)
        log_take(lg, buf, (size_t)n);
    else
        log_flush(lg);
}

/* Copy whatever the container's output holds now into the log file. */
static void drain(int relay, struct log *lg, struct cri_stream *cs)
{
    char buf[65536];
    ssize_t n;
    fcntl(relay, F_SETFL, fcntl(relay, F_GETFL) | O_NONBLOCK);
    while ((n = read(relay, buf, sizeof buf)) > 0)
        take(lg, cs, buf, n);
    take(lg, cs, buf, 0);
}

static int monitor_main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: minipod-shim monitor PID EXITFILE [--hold FD] [--relay FD]"
                        " [--log PATH LOGFD MAXSIZE MAXFILES]\n");
        return 2;
    }
    pid_t child = (pid_t)atoi(argv[2]);
    const char *exit_file = argv[3];
    snprintf(error_file, sizeof error_file, "%s.error", exit_file);
    int master = -1, stdin_fifo = -1, stdin_to = -1, errors = -1, stdin_once = 0;
    const char *log_path = NULL;
    static struct cri_stream co = {.name = "stdout"}, ce = {.name = "stderr"};
    struct log lg = {.path = NULL, .fd = -1, .times_path = NULL, .times_fd = -1};
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
            i++; /* nothing to do: keeping the fd open is the whole job */
        else if (strcmp(argv[i], "--relay") == 0 && i + 1 < argc)
            master = atoi(argv[++i]);
        else if (strcmp(argv[i], "--log") == 0 && i + 4 < argc) {
            lg.path = log_path = argv[++i];
            lg.fd = atoi(argv[++i]);
            lg.max_size = atoll(argv[++i]);
            lg.max_files = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--stdin-once") == 0)
            stdin_once = 1; /* before --stdin */
        else if (strcmp(argv[i], "--stdin") == 0 && i + 2 < argc) {
            /* Our own writer keeps the FIFO from ever reaching EOF between
             * two attach sessions (poll would spin on POLLHUP); with
             * --stdin-once the first attach's end is the container's EOF. */
            stdin_fifo = open(argv[++i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
            if (stdin_fifo >= 0 && !stdin_once)
                open(argv[i], O_WRONLY | O_CLOEXEC);
            stdin_to = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--stderr") == 0 && i + 1 < argc)
            errors = atoi(argv[++i]);
        else if (strcmp(argv[i], "--cri") == 0)
            cri_out = &co, cri_err = &ce;
        else if (strcmp(argv[i], "--times") == 0 && i + 1 < argc) {
            lg.times_path = argv[++i];
            lg.times_fd = open(lg.times_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        }
    }
    struct stat st;
    if (lg.fd >= 0 && fstat(lg.fd, &st) == 0)
        lg.size = st.st_size;
    if (lg.max_size <= 0 || lg.max_files < 2 || cri_out)
        lg.path = NULL; /* no rotation */
    int sfd = block_signals();
    struct pollfd fds[4] = {{.fd = sfd, .events = POLLIN},
                            {.fd = master, .events = POLLIN},
                            {.fd = stdin_fifo, .events = POLLIN},
                            {.fd = errors, .events = POLLIN}};
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
        int ready = poll(fds, 4, lg.pend_len > 0 ? PEND_WAIT_MS : -1); /* fd -1: left out */
        if (ready < 0 && errno != EINTR)
            die("poll");
        if (ready == 0) {
            log_flush(&lg); /* quiet mid-line: the partial line goes out as it is */
            continue;
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) < 0 && errno != EAGAIN)
                die("read(signalfd)");
            else if (si.ssi_signo == SIGUSR1 && log_path) { /* rotated away by someone else */
                int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
                if (fd >= 0)
                    dup2(fd, lg.fd), close(fd);
            }
        }
        for (int k = 1; k <= 3; k += 2) { /* the output: stdout (and stderr apart, with --cri) */
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t n = read(fds[k].fd, buf, sizeof buf);
            take(&lg, k == 1 ? cri_out : cri_err, buf, n);
            if (n <= 0)
                fds[k].fd = -1; /* EOF, or EIO for a terminal: every writer is gone */
        }
        if (fds[2].revents & (POLLIN | POLLHUP)) {
            char buf[4096];
            ssize_t n = read(stdin_fifo, buf, sizeof buf);
            if (n > 0)
                write_all(stdin_to, buf, (size_t)n);
            else if (n == 0 && stdin_once) { /* the attach closed its stdin */
                close(stdin_to);             /* the container's EOF */
                fds[2].fd = -1;
            }
        }
    }
    /* What the container wrote before it exited; not what orphans it
     * left behind may write later (they would keep us here forever). */
    if (fds[1].fd >= 0)
        drain(master, &lg, cri_out);
    if (fds[3].fd >= 0)
        drain(errors, &lg, cri_err);
    log_flush(&lg);
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
