/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-ops.h: OpArgs/OpResult members as JSON, by the op table's params
 * (the descriptors and GLib only, no core), on top of proto/json-write.h.
 */
#pragma once

#include "ops/ops-table.h"
#include "proto/json-write.h"

void json_write_variant(GString *s, GVariant *v);
bool json_write_members(GString *s, const OpParam *params, unsigned n, const void *base, bool first);
