/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.h: the words for the core's errnos, shared by every transport.
 * Each transport maps the short name to its own form once, at its edge:
 * D-Bus as "org.switchboard.Hub1.Error.<name>", JSON-RPC as an error code
 * with data.name. The message names the offending argument and the rule or
 * limit it broke, so a person can fix the call without reading the source.
 */
#pragma once

#include <stddef.h>

#include "core/hub.h"

#define SB_ERROR_PREFIX "org.switchboard.Hub1.Error."

/* The same errno means different things for different arguments. */
typedef enum HubArg {
        HUB_ARG_TOPIC,
        HUB_ARG_PATTERN,
        HUB_ARG_KEY,
        HUB_ARG_PREFIX,
        HUB_ARG_SUBSCRIPTION,
        HUB_ARG_WATCH,
        HUB_ARG_CLIENT,
        HUB_ARG_QUEUE,
        HUB_ARG_JOB,
        HUB_ARG_SERVICE,
        HUB_ARG_CALL,
} HubArg;

int hub_error_explain(int r, const HubLimits *limits, HubArg arg, const char *what, size_t size,
                      const char **ret_name, char **ret_message);
