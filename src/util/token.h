/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * token.h: a shared secret kept in a file of its owner's only (mode 0600):
 * 32 random bytes as 64 hex digits and a newline. The hub reads it to
 * authenticate TCP clients; the CLI creates, rotates and shows it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_MAX_FILE 1024             /* bytes a token file may hold */

int token_generate(char **ret);
int token_file_read(const char *path, char **ret_token, char **ret_problem);
int token_file_write(const char *path, const char *token);
bool token_equal(const char *a, size_t a_len, const char *b, size_t b_len);
