/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bridge-config.h: what switchboard-bridge is told to do, from the [bridge]
 * group of switchboard.conf and from its flags (flags win; a list given by
 * flags replaces the file's). No I/O beyond reading the file; no NATS.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

typedef struct BridgeConfig {
        char *config_path;      /* the file read, or NULL when there was none */
        char *socket;           /* the hub's socket, NULL: libswitchboard's default */
        char *name;             /* this bridge's origin id on NATS (Switchboard-Origin) */

        char **urls;            /* NATS servers, tried in order */
        char *token, *user, *password;
        char *creds;            /* a .creds file (JWT + NKey seed) */
        char *nkey, *nkey_seed; /* a public NKey and the file of its seed */
        char *tls_ca;           /* CA certificates (PEM file): TLS on */

        char **export_patterns;         /* hub topics published to NATS */
        char *export_prefix;            /* prepended to their subjects */
        char **import_patterns;         /* NATS subjects published into the hub */
        char *import_prefix;            /* stripped from their topics, when present */
        char **export_services;         /* names served on the hub, answered by NATS responders */
        char **import_services;         /* names NATS requests reach, served on the hub */
        char *service_prefix;           /* NATS subject of a name = prefix + name */

        uint64_t reconnect_buffer;      /* bytes libnats keeps while reconnecting */
        uint64_t max_pending;           /* NATS messages waiting in one subscription, at most */
        uint64_t call_timeout_ms;       /* hub calls made for NATS requests */
        bool discovered_servers;        /* fail over to cluster members the servers name */
        int hub_rings;                  /* shared-memory rings with the hub: -1 auto, 0 no, 1 yes */
        uint64_t ring_size;             /* data size of each ring */
        bool send_asap;                 /* write what a loop turn published at once, not after 1 ms */
        bool verbose;
} BridgeConfig;

void bridge_config_free(BridgeConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BridgeConfig, bridge_config_free)

int bridge_config_parse(int argc, char **argv, BridgeConfig **ret, bool *ret_exit);
void bridge_config_print(const BridgeConfig *c, FILE *f);
int bridge_config_load_text(BridgeConfig *c, const char *path, const char *text, size_t len);
bool bridge_subject_valid(const char *subject);
bool bridge_patterns_overlap(const char *a, const char *b);
