/*
 * The CRI log format, for the monitor of a container whose log path its
 * creator chose (the kubelet, through the CRI): every line of output is
 *
 *     TIMESTAMP STREAM TAG CONTENT
 *
 * TIMESTAMP in RFC 3339 with nanoseconds (UTC), STREAM stdout or stderr,
 * TAG F for a full line and P for a part of one longer than the buffer
 * (the next part follows on the next line), as containerd's CRI plugin
 * writes them and the kubelet's log reader parses them. In order:
 *     1. cri_take(): a chunk of one stream's output joins what waits of
 *        that stream; each whole line goes out as an F line;
 *     2. a line that fills the buffer goes out as P, and waits no more;
 *     3. cri_flush(): at the end of the stream, what is left goes out as
 *        an F line (a last line without its newline is still a whole one).
 * No rotation here: the kubelet rotates CRI logs itself (ReopenContainerLog).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cri_log.h"

static void cri_line(int fd, const char *stream, char tag, const char *data, size_t n)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char when[40], head[96];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    int h = snprintf(head, sizeof head, "%s.%09ldZ %s %c ", when, now.tv_nsec, stream, tag);
    struct iovec iov[3] = {{head, (size_t)h}, {(void *)data, n}, {"\n", 1}};
    /* One writev per line: lines of the two streams never interleave. A
     * full disk must not stop the container: drop, go on. */
    if (writev(fd, iov, 3) < 0)
        return;
}

void cri_take(struct cri_stream *s, int fd, const char *buf, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(buf, '\n', n);
        size_t part = nl ? (size_t)(nl - buf) : n;
        size_t room = sizeof s->pend - s->len;
        if (part >= room) { /* step 2: longer than the buffer */
            memcpy(s->pend + s->len, buf, room);
            cri_line(fd, s->name, 'P', s->pend, sizeof s->pend);
            s->len = 0;
            buf += room;
            n -= room;
            continue;
        }
        memcpy(s->pend + s->len, buf, part);
        s->len += part;
        if (!nl) /* the rest of this line comes later */
            return;
        cri_line(fd, s->name, 'F', s->pend, s->len); /* step 1 */
        s->len = 0;
        buf += part + 1;
        n -= part + 1;
    }
}

void cri_flush(struct cri_stream *s, int fd)
{
    if (s->len > 0)
        cri_line(fd, s->name, 'F', s->pend, s->len);
    s->len = 0;
}
