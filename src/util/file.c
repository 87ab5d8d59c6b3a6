/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * file.c: see file.h. Used by the daemon for its pid file and its
 * last-error file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "util/file.h"

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/**
 * file_write_atomic() - replace @path with @text, with permissions @mode
 *
 * Writes PATH.tmp (never through a symbolic link) and renames it over @path.
 *
 * Return: 0, or a negative errno (nothing logged); PATH.tmp does not stay behind.
 */
int file_write_atomic(const char *path, const char *text, mode_t mode) {
        g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
        int fd, r;

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, text, strlen(text));
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}
