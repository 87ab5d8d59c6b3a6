/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * token.c: see token.h. Nothing is logged here: a failure comes back as
 * an errno and, from token_file_read(), a sentence that says what to fix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "util/file.h"
#include "util/token.h"

/**
 * token_generate() - 32 random bytes from the kernel, as 64 lowercase hex digits
 *
 * Return: 0, or a negative errno from getrandom().
 */
int token_generate(char **ret) {
        uint8_t bytes[32];
        GString *s;
        size_t got = 0;

        while (got < sizeof bytes) {
                ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                got += (size_t) n;
        }
        s = g_string_sized_new(2 * sizeof bytes + 1);
        for (size_t i = 0; i < sizeof bytes; i++)
                g_string_append_printf(s, "%02x", bytes[i]);
        *ret = g_string_free(s, FALSE);
        return 0;
}

static int token_fd_read(int fd, const char *path, char **ret_token, char **ret_problem);

/**
 * token_file_read() - the token in @path, checked to be its owner's secret
 * @ret_problem: on failure, what is wrong and how to fix it
 *
 * The file must be a regular file (not followed through a symbolic link)
 * owned by the caller's uid, readable by nobody else, at most
 * TOKEN_MAX_FILE bytes, holding one line of printable ASCII without spaces.
 *
 * Return: 0; -ENOENT when missing, -EPERM for a file others may read or
 * that another uid owns, -EINVAL for bad content, or another negative errno.
 */
int token_file_read(const char *path, char **ret_token, char **ret_problem) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        int r;

        if (fd < 0) {
                int e = errno;

                *ret_problem = g_strdup_printf("cannot read the token file '%s': %s", path, g_strerror(e));
                return -e;
        }
        r = token_fd_read(fd, path, ret_token, ret_problem);
        (void) close(fd);
        return r;
}

static int token_fd_read(int fd, const char *path, char **ret_token, char **ret_problem) {
        char buf[TOKEN_MAX_FILE + 1];
        struct stat st;
        size_t len = 0;

        if (fstat(fd, &st) < 0) {
                int e = errno;

                *ret_problem = g_strdup_printf("cannot read the token file '%s': %s", path, g_strerror(e));
                return -e;
        }
        if (!S_ISREG(st.st_mode)) {
                *ret_problem = g_strdup_printf("the token file '%s' is not a regular file", path);
                return -EINVAL;
        }
        if (st.st_uid != getuid()) {
                *ret_problem = g_strdup_printf("the token file '%s' belongs to uid %u, not to uid %u: remove it "
                                               "and run 'switchboard token rotate'", path, (unsigned) st.st_uid,
                                               (unsigned) getuid());
                return -EPERM;
        }
        if (st.st_mode & 0077) {
                *ret_problem = g_strdup_printf("the token file '%s' has mode %04o: others may read the secret; "
                                               "make it 0600 (chmod 600 '%s') and, since it may have leaked, "
                                               "run 'switchboard token rotate'", path,
                                               (unsigned) (st.st_mode & 07777), path);
                return -EPERM;
        }
        while (len < sizeof buf) {
                ssize_t n = read(fd, buf + len, sizeof buf - len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;

                        *ret_problem = g_strdup_printf("cannot read the token file '%s': %s", path, g_strerror(e));
                        return -e;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                len--;
        if (len == 0 || len > TOKEN_MAX_FILE - 2) {
                *ret_problem = g_strdup_printf("the token file '%s' holds no token (or more than %d bytes)", path,
                                               TOKEN_MAX_FILE - 2);
                return -EINVAL;
        }
        for (size_t i = 0; i < len; i++)
                if (buf[i] <= ' ' || buf[i] > '~') {
                        *ret_problem = g_strdup_printf("the token file '%s' holds something other than one "
                                                       "line of printable ASCII without spaces", path);
                        return -EINVAL;
                }
        *ret_token = g_strndup(buf, len);
        return 0;
}

/**
 * token_file_write() - replace @path with @token and a newline, mode 0600, atomically
 *
 * Creates the directory of @path (mode 0700) when missing. A reader sees the
 * old token or the new one, never half of either.
 *
 * Return: 0, or a negative errno.
 */
int token_file_write(const char *path, const char *token) {
        g_autofree char *dir = g_path_get_dirname(path), *text = g_strconcat(token, "\n", NULL);

        if (g_mkdir_with_parents(dir, 0700) < 0)
                return -errno;
        return file_write_atomic(path, text, 0600);
}

/**
 * token_equal() - whether @a equals @b, in a time that does not depend on where they differ
 *
 * The time depends on @b_len (the guess) only, never on the secret's content.
 */
bool token_equal(const char *a, size_t a_len, const char *b, size_t b_len) {
        unsigned char diff = a_len != b_len;

        for (size_t i = 0; i < b_len; i++)
                diff |= (unsigned char) (b[i] ^ (i < a_len ? a[i] : 0));
        return diff == 0;
}
