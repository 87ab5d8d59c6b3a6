/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * client.h: how the core sees a connected client, whatever its transport.
 *
 * A transport embeds Client in its own connection struct and hands the core
 * &conn->client. The core reaches the client only through its ClientSink:
 * deliver() enqueues one Envelope (it must copy what it keeps and never
 * block). Everything a client creates in the core (subscriptions,
 * watches) is linked into the client too, so client_deinit() frees it all
 * without scanning.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

typedef struct Hub Hub;
typedef struct Client Client;

typedef enum EnvelopeKind {
        ENVELOPE_MESSAGE,       /* topic, payload, seq; retained when replayed */
        ENVELOPE_KEY_CHANGED,   /* key in topic, value in payload, revision in seq */
        ENVELOPE_GAP,           /* gap_first..gap_last were not delivered */
        ENVELOPE_JOB,           /* a waiting reserve's answer: queue in topic, job id in seq
                                 * (0: timed out), payload, attempts; never to be dropped */
        ENVELOPE_REQUEST,       /* to a server: call id in sub_id, name in topic, payload,
                                 * caller in sender; never to be dropped */
        ENVELOPE_REPLY,         /* to a caller: call id in sub_id, payload, or an error
                                 * (error_name/error_code/error_message); never to be dropped */
        ENVELOPE_TRAFFIC,       /* to a monitor: queue or call/serve traffic; event, queue or
                                 * served name in topic, job or call id in object_id, the hub's
                                 * traffic number in seq, payload, attempts, error_name ("" when
                                 * none) and error_message, sender (NULL: the hub itself) */
} EnvelopeKind;

/* Who sent a message, as the kernel or the bus reported it. */
typedef struct ClientInfo {
        const char *transport;  /* "dbus", "unix", ...; NULL for the hub itself */
        uint64_t id;            /* hub-wide client id, 0 for the hub itself */
        uid_t uid;              /* (uid_t) -1 when not (yet) known */
        pid_t pid;              /* 0 when not (yet) known */
        const char *name;       /* D-Bus unique name or NULL */
        const char *address;    /* TCP: the peer's address ("127.0.0.1:53412"), else NULL */
} ClientInfo;

/*
 * One publish reaches many subscribers with the same bytes: the first
 * transport that encodes it may keep the encoding here for the others
 * (owner says whose it is). The publisher frees it after the last delivery.
 */
typedef struct EnvelopeCache {
        const void *owner;              /* a transport's tag; NULL: empty */
        void *data;
        size_t aux;                     /* the transport's own number about data */
        void (*free)(void *data);
} EnvelopeCache;

void envelope_cache_clear(EnvelopeCache *cache);

typedef struct Envelope {
        EnvelopeKind kind;
        uint64_t sub_id;                /* subscription or watch id; 0 for a catch-all */
        const char *topic;              /* topic, or key for KEY_CHANGED */
        const void *payload;            /* payload or value; not NUL-terminated */
        size_t payload_len;
        uint64_t seq;                   /* message seq, or revision for KEY_CHANGED */
        bool retained;                  /* MESSAGE: replayed retained value */
        bool deleted;                   /* KEY_CHANGED: the key was deleted */
        bool compact;                   /* MESSAGE: the subscriber wants no sender, nor retained unless true */
        uint64_t gap_first, gap_last;   /* GAP only */
        unsigned attempts;              /* JOB: how often it was reserved, this time included */
        const char *error_name;         /* REPLY: an error: "NoServer", "Timeout", "ServerGone",
                                         * or the server's own name (NULL: success) */
        int error_code;                 /* REPLY: the server's JSON-RPC code, 0 when none */
        bool error_from_hub;            /* REPLY: error_name is the hub's own, not the server's */
        const char *error_message;      /* REPLY: with error_name */
        const char *event;              /* TRAFFIC: "push", "reserve", "call", ... (docs/protocol.md) */
        uint64_t object_id;             /* TRAFFIC: the job or call it is about */
        const ClientInfo *sender;       /* MESSAGE/KEY_CHANGED/TRAFFIC: who caused it */
        EnvelopeCache *cache;           /* MESSAGE/KEY_CHANGED: shared by all its deliveries; may be NULL */
} Envelope;

typedef struct ClientSink {
        const char *transport;                          /* "dbus", "unix", ... */
        /* Enqueue only; 0 on success, -ENOBUFS when the client's output is full. */
        int (*deliver)(Client *c, const Envelope *e);
} ClientSink;

struct Client {
        const ClientSink *sink;
        Hub *hub;
        ClientInfo info;
        char *name;                     /* owned copy behind info.name */
        char *address;                  /* owned copy behind info.address */
        bool internal;                  /* a hub-side listener, not counted as a client */
        GHashTable *subscriptions;      /* id -> Subscription*, owned */
        GHashTable *watches;            /* id -> Watch*, owned */
        GHashTable *reserved;           /* job id -> Job*, reserved by this client; not owned */
        GHashTable *waits;              /* wait id -> ReserveWait*, owned */
        GHashTable *served;             /* name -> ServeEntry*, owned */
        GHashTable *calls_out;          /* call id -> PendingCall*, calls it made; not owned */
        GHashTable *calls_in;           /* call id -> PendingCall*, calls routed to it; not owned */
        GHashTable *monitors;           /* id -> Monitor*, owned */
        uint64_t n_published;           /* messages it published */
        uint64_t n_delivered;           /* envelopes its sink took from its listeners */
        uint64_t n_dropped;             /* envelopes its full sink refused */
        GList link;                     /* in Hub.clients */
};

int client_init(Client *c, Hub *hub, const ClientSink *sink, uid_t uid, pid_t pid,
                 const char *name, bool internal);
void client_deinit(Client *c);
void client_set_creds(Client *c, uid_t uid, pid_t pid);
void client_set_address(Client *c, const char *address);
void client_info_copy(ClientInfo *dst, const ClientInfo *src);
void client_info_clear(ClientInfo *i);
void client_flush_gaps(Client *c);
