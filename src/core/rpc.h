/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rpc.h: what the rest of the core asks of request/reply (rpc.c; the
 * operations are hub.h "Request/reply"). Services and pending calls are
 * rpc.c's own; the hub only holds their tables. Called by hub.c (life
 * cycle) and client.c (a client leaving).
 */
#pragma once

#include "core/client.h"

typedef struct Service Service;
typedef struct PendingCall PendingCall;

void rpc_init(Hub *h);
void rpc_deinit(Hub *h);
void rpc_client_release(Hub *h, Client *c);
