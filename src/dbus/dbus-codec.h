/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-codec.h: OpArgs and OpResult members to and from an sd-bus message,
 * by the op table's params. The hub reads a call's in-args and appends its
 * out-args; the CLI appends the in-args and reads the out-args. It needs
 * the descriptors and sd-bus only, no core.
 */
#pragma once

#include <systemd/sd-bus.h>

#include "ops/ops-table.h"

/* Whether bytes are text that may travel as an 's'. */
typedef bool (*DbusCodecText)(const void *data, size_t len);

int dbus_codec_read(sd_bus_message *m, const OpParam *params, unsigned n, void *base);
int dbus_codec_append(sd_bus_message *m, const OpParam *params, unsigned n, const void *base,
                      DbusCodecText text_fn, const OpParam **ret_not_text);
int dbus_codec_append_variant(sd_bus_message *m, GVariant *v);
