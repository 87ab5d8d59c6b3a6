/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-errors.h: D-Bus error names. The hub's own are derived from the
 * core's one error table (core/errors.h) under the interface's error
 * prefix, generated from the XML (ops-table.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-bus.h>

#include "core/errors.h"
#include "ops/ops-table.h"

#define SB_ERROR_PREFIX OPS_ERROR_PREFIX

bool dbus_error_name_valid(const char *name);

int dbus_error_from_errno(sd_bus_error *error, int r, const HubLimits *limits, HubArg arg,
                          const char *what, size_t size);
