/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-write.h: JSON text appended to a GString, by hand and without
 * printf, and OpArgs/OpResult members written by the op table's params.
 * The hub writes its responses and notifications with it, the CLI its
 * requests' params; it needs the descriptors and GLib only, no core.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "ops/ops-table.h"

void json_write_u64(GString *s, uint64_t v);
void json_write_member(GString *s, const char *name);
void json_write_string(GString *s, const char *str, size_t len);
void json_write_cstr(GString *s, const char *str);
void json_write_bytes_member(GString *s, const char *name, const void *data, size_t len, bool text);
void json_write_variant(GString *s, GVariant *v);
bool json_write_members(GString *s, const OpParam *params, unsigned n, const void *base, bool first);
