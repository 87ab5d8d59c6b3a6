/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.h: the hub's one error table, and the words for the core's errnos.
 * Every error a client can get from the hub is one row here: its short
 * name and its JSON-RPC code. Each face derives its own form at its edge
 * (D-Bus: the interface's error prefix and the name; JSON-RPC: the code,
 * with the same full name in data.name). The message names the offending
 * argument and the rule or limit it broke, so a person can fix the call
 * without reading the source.
 */
#pragma once

#include <stddef.h>

#include "core/hub.h"

typedef struct HubError {
        const char *name;               /* "InvalidTopic" */
        int code;                       /* its JSON-RPC error code */
        const char *meaning;            /* for docs and rpc.describe */
} HubError;

extern const HubError hub_errors[];
extern const unsigned hub_n_errors;

const HubError *hub_error_find(const char *name);

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
        HUB_ARG_MONITOR,
} HubArg;

int hub_error_explain(int r, const HubLimits *limits, HubArg arg, const char *what, size_t size,
                      const char **ret_name, char **ret_message);
