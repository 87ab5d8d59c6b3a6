/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-errors.h: the org.switchboard.Hub1.Error.* names and the one place
 * where a core errno becomes a D-Bus error with a message a person can act
 * on. The same errno means different things for different arguments
 * (-EINVAL for a topic, a pattern or a key), so callers say which.
 */
#pragma once

#include <stddef.h>

#include <systemd/sd-bus.h>

#include "core/hub.h"

#define SB_ERROR_INVALID_TOPIC   "org.switchboard.Hub1.Error.InvalidTopic"
#define SB_ERROR_INVALID_PATTERN "org.switchboard.Hub1.Error.InvalidPattern"
#define SB_ERROR_INVALID_KEY     "org.switchboard.Hub1.Error.InvalidKey"
#define SB_ERROR_NOT_FOUND       "org.switchboard.Hub1.Error.NotFound"
#define SB_ERROR_CONFLICT        "org.switchboard.Hub1.Error.Conflict"
#define SB_ERROR_LIMIT_EXCEEDED  "org.switchboard.Hub1.Error.LimitExceeded"
#define SB_ERROR_NOT_TEXT        "org.switchboard.Hub1.Error.NotText"

typedef enum DbusArg {
        DBUS_ARG_TOPIC,
        DBUS_ARG_PATTERN,
        DBUS_ARG_KEY,
        DBUS_ARG_PREFIX,
        DBUS_ARG_SUBSCRIPTION,
        DBUS_ARG_WATCH,
} DbusArg;

int dbus_error_from_errno(sd_bus_error *error, int r, const HubLimits *limits, DbusArg arg,
                          const char *what, size_t size);
