/* The CRI log format (cri_log.c): one stream's pending line. */
#ifndef MINIPOD_CRI_LOG_H
#define MINIPOD_CRI_LOG_H
#include <stddef.h>

struct cri_stream {
    const char *name; /* "stdout" or "stderr" */
    char pend[16384]; /* containerd's max_container_log_line_size */
    size_t len;
};

void cri_take(struct cri_stream *s, int fd, const char *buf, size_t n);
void cri_flush(struct cri_stream *s, int fd);
#endif
