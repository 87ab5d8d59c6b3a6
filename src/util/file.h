/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * file.h: small files written whole: a reader sees the old content or the
 * new one, never half of it.
 */
#pragma once

#include <sys/types.h>

int file_write_atomic(const char *path, const char *text, mode_t mode);
