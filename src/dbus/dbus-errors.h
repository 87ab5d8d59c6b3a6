/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-errors.h: the org.switchboard.Hub1.Error.* names, and the one place
 * where a core errno becomes a D-Bus error (words from core/errors.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-bus.h>

#include "core/errors.h"

#define SB_ERROR_INVALID_TOPIC   SB_ERROR_PREFIX "InvalidTopic"
#define SB_ERROR_INVALID_PATTERN SB_ERROR_PREFIX "InvalidPattern"
#define SB_ERROR_INVALID_KEY     SB_ERROR_PREFIX "InvalidKey"
#define SB_ERROR_NOT_FOUND       SB_ERROR_PREFIX "NotFound"
#define SB_ERROR_CONFLICT        SB_ERROR_PREFIX "Conflict"
#define SB_ERROR_LIMIT_EXCEEDED  SB_ERROR_PREFIX "LimitExceeded"
#define SB_ERROR_NOT_TEXT        SB_ERROR_PREFIX "NotText"
#define SB_ERROR_NO_JOB          SB_ERROR_PREFIX "NoJob"

bool dbus_error_name_valid(const char *name);

int dbus_error_from_errno(sd_bus_error *error, int r, const HubLimits *limits, HubArg arg,
                          const char *what, size_t size);
