/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake-client.h: a Client for unit tests. Its sink (transport "fake")
 * records a deep copy of every Envelope the core delivers in
 * FakeClient.delivered, so a test can look at what a transport would have
 * sent. It refuses output with -ENOBUFS while `full` is set, or once
 * `budget` (when not negative) has run out, which is how tests make gaps.
 * The core never sees more than &fake->client.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

#include "core/hub.h"

typedef struct FakeEnvelope {
        EnvelopeKind kind;
        uint64_t sub_id;
        char *topic;                    /* topic, or key for KEY_CHANGED; NULL for GAP */
        GBytes *payload;                /* never NULL; empty for GAP and deletions */
        uint64_t seq;
        bool retained;
        bool deleted;
        uint64_t gap_first, gap_last;
        unsigned attempts;              /* JOB, TRAFFIC */
        char *event;                    /* TRAFFIC */
        uint64_t object_id;             /* TRAFFIC */
        char *error_name;               /* REPLY: as Envelope */
        int error_code;
        bool error_from_hub;
        char *error_message;
        bool has_sender;                /* Envelope.sender was not NULL */
        uint64_t sender_id;
        uid_t sender_uid;
        char *sender_transport;
        char *sender_name;
} FakeEnvelope;

typedef struct FakeClient {
        Client client;                  /* must be first: the core sees only this */
        GPtrArray *delivered;           /* FakeEnvelope*, owned, in delivery order */
        bool full;                      /* refuse every envelope with -ENOBUFS */
        int budget;                     /* >= 0: accept this many more, then refuse */
        unsigned n_refused;             /* envelopes refused so far */
} FakeClient;

extern const ClientSink fake_sink;

int fake_client_new_full(Hub *hub, uid_t uid, bool internal, FakeClient **ret);
FakeClient *fake_client_new(Hub *hub, uid_t uid);
FakeClient *fake_client_free(FakeClient *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeClient, fake_client_free)

const FakeEnvelope *fake_client_get(FakeClient *f, unsigned i);
unsigned fake_client_count(FakeClient *f, EnvelopeKind kind);
void fake_client_clear(FakeClient *f);
bool fake_envelope_payload_is(const FakeEnvelope *e, const char *text);

/* A hub with the default limits, or with @limits when not NULL. */
Hub *test_hub_new(const HubLimits *limits);
