/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib-private.h: what the files of libswitchboard share: the client, its
 * blocking and asynchronous requests (client.c) and the typed operations
 * written on them (ops.c). Not installed.
 */
#pragma once

#include <glib.h>

#include "proto/frame.h"
#include "proto/json-write.h"
#include "proto/json.h"
#include "switchboard/switchboard.h"

#define SB_EXPORT __attribute__((visibility("default")))

/* The largest frame accepted from the hub: as large as a D-Bus message may be. */
#define SB_MAX_FRAME (128u * 1024 * 1024)
/* Pipelined output is written once this much is queued. */
#define SB_WRITE_BATCH (64u * 1024)
/* Beyond this much queued output a pipelining caller waits for the socket. */
#define SB_MAX_QUEUED (8u * 1024 * 1024)
#define SB_DEFAULT_TIMEOUT_MS 25000

typedef struct Listener {
        sb_event_fn fn;
        void *userdata;
} Listener;

/* An asynchronous request awaiting its answer: one of the two callbacks. */
typedef struct Pending {
        sb_reply_fn fn;                 /* the result's JSON text (sb_request_async()) */
        sb_call_fn call_fn;             /* or a call's reply bytes, decoded (sb_call_async()) */
        void *userdata;
} Pending;

/* A parsed answer: the frame's text, its tokens, and the result's token. */
typedef struct Answer {
        GString *text;
        JsonParser *jp;
        int result;                     /* the result's token, or -1 */
} Answer;

struct sb_client {
        int fd;
        FrameReader reader;
        GByteArray *out;                /* framed output not yet written, from out_start */
        size_t out_start;
        size_t full_at;                 /* what was pending when the socket last took no more; 0: not full */
        uint64_t next_id;
        GHashTable *pending;            /* id -> Pending*: asynchronous requests awaiting answers */
        GQueue stash;                   /* GString*: frames read during a blocking call, in order */
        GHashTable *listeners;          /* subscription/watch/monitor id -> Listener* */
        GHashTable *served;             /* served name -> Listener* */
        Listener fallback;
        int timeout_ms;
        int cancel_fd;
        bool eof;
        bool broken;                    /* a bad frame or a write error: nothing more is read */
        bool dispatching;               /* in sb_process(): callbacks may not call it again */
        /* the last error */
        char *error_name, *error_message;
        int error_code;
        /* loop integration */
        void (*io_hook)(sb_client *c, int events, void *userdata);
        void *io_userdata;
        int io_events;
        /* reused between frames */
        GString *request;               /* the request being built */
        GString *frame;                 /* the frame being dispatched (a copy: callbacks may read more) */
        JsonParser *event_jp;
        GByteArray *decoded;            /* a base64 payload, decoded */
        Answer answer;                  /* the last blocking call's answer */
        GArray *fds;                    /* int: fds received (SCM_RIGHTS) not yet claimed, in order */
        GList *rings;                   /* sb_ring*: mapped rings, unmapped by sb_close() */
};

int client_fail(sb_client *c, int r, const char *message);
int client_hub_error(sb_client *c, JsonParser *jp, int error);

void request_begin(sb_client *c, const char *method, bool with_id, uint64_t *ret_id);
void request_end(sb_client *c);

int client_enqueue(sb_client *c);
int client_call(sb_client *c, uint64_t id, int wait_ms, Answer **ret);
void pending_add(sb_client *c, uint64_t id, const Pending *p);

int answer_member(Answer *a, const char *name);
int answer_u64(Answer *a, const char *name, uint64_t *ret);
int answer_bytes(sb_client *c, Answer *a, const char *name, void **ret_data, size_t *ret_size);
int answer_text(Answer *a, const char *name, char **ret);

int listener_add(sb_client *c, uint64_t id, sb_event_fn fn, void *userdata);
int call_answer(sb_client *c, uint64_t id, int wait_ms, Answer **ret);
int check_text(sb_client *c, const char *s, const char *what);
void client_close_fds(sb_client *c);
void ring_client_gone(sb_ring *r);
