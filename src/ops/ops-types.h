/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ops-types.h: the shape of the op table. Every operation of the hub is one
 * OpMethod per D-Bus member, generated from the interface XML by
 * ops-gen.py into ops-table.{c,h}: its arguments on each face, typed, where
 * they land in OpArgs, which OpResult members make its answer, and the one
 * core handler that does the work. The faces (src/dbus/, src/jsonrpc/)
 * read and write arguments by these descriptors; they never name an
 * operation except where a face genuinely differs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "core/hub.h"

typedef struct OpArgs OpArgs;           /* generated: every in-arg by name */
typedef struct OpResult OpResult;       /* generated: every result by name */
typedef struct OpCall OpCall;

/* Payload bytes: text on D-Bus 's', 'ay', or JSON-RPC "x" / "x_base64". */
typedef struct OpBytes {
        const void *data;
        size_t len;
} OpBytes;

typedef enum OpType {
        OP_TYPE_STRING,                 /* const char *, NUL-free */
        OP_TYPE_BYTES,                  /* OpBytes */
        OP_TYPE_BOOL,                   /* bool */
        OP_TYPE_U32,                    /* uint32_t */
        OP_TYPE_U64,                    /* uint64_t */
        OP_TYPE_I32,                    /* int32_t (JSON-RPC only) */
        OP_TYPE_ROWS,                   /* GArray * of an OpRows element type */
        OP_TYPE_DICT,                   /* GVariant * of type a{sv} */
} OpType;

/* One member of a row of an array result (a core struct: StoreEntry, QueueInfo). */
typedef struct OpField {
        const char *name;
        OpType type;                    /* STRING, BYTES, U32 or U64 */
        char dbus;                      /* its D-Bus type code */
        size_t offset;                  /* in the row; BYTES: of the data pointer */
        size_t len_offset;              /* BYTES: of the size_t length */
} OpField;

typedef struct OpRows {
        const char *dbus;               /* the element's D-Bus signature, "(sst)" */
        const char *members;            /* inside the parentheses, "sst" */
        size_t size;                    /* of one row */
        const OpField *fields;
        unsigned n_fields;
} OpRows;

typedef struct OpParam {
        const char *name;               /* the JSON-RPC name and the OpArgs/OpResult member */
        OpType type;
        char dbus;                      /* on D-Bus: 's', 'y' (for ay), 'b', 'u', 't', 'a', 'v'; 0: none */
        size_t offset;                  /* in OpArgs or OpResult */
        const char *json_default;       /* JSON-RPC: the value when absent; NULL: required */
        const char *not_text;           /* D-Bus 's' result of bytes: NotText, with this hint */
        const OpRows *rows;             /* OP_TYPE_ROWS */
        const char *b64_name;           /* OP_TYPE_BYTES: its JSON-RPC base64 twin, "payload_base64" */
} OpParam;

enum {
        OP_FIFO = 1 << 0,               /* may arrive through the FIFO */
        OP_DURABLE = 1 << 1,            /* may change durable state */
        OP_DEFERRED = 1 << 2,           /* may be answered later */
        OP_ANONYMOUS = 1 << 3,          /* needs no client */
        OP_JSONRPC_PRIMARY = 1 << 4,    /* its json_in are the JSON-RPC method's params */
};

typedef int (*OpHandler)(OpCall *call, const OpArgs *in, OpResult *out);

typedef struct OpMethod {
        const char *dbus;               /* the D-Bus member */
        const char *jsonrpc;            /* the JSON-RPC method (twins share it), or NULL */
        const char *op;                 /* the operation: its core handler is op_<op>() */
        void (*preset)(OpArgs *in);     /* fixes the op's args this member lacks, or NULL */
        const OpParam *in;              /* D-Bus in-args, in order */
        unsigned n_in;
        const OpParam *json_in;         /* JSON-RPC params in positional order (primary only) */
        unsigned n_json_in;
        const OpParam *out;             /* D-Bus out-args; the JSON-RPC result's members */
        unsigned n_out;
        const OpParam *echo;            /* in-args the JSON-RPC result repeats first */
        unsigned n_echo;
        unsigned flags;
        const char *errors;             /* the hub errors it may return, space-separated */
} OpMethod;

typedef struct OpNotification {
        const char *signal;             /* D-Bus signal */
        const char *jsonrpc;            /* the JSON-RPC notification, or NULL */
} OpNotification;

/*
 * An error for the caller. The hub's own errors have a short name from the
 * core's table (errors.h) and its code; a server's error (a call's
 * answer) passes its own name and code through.
 */
typedef struct OpError {
        int code;                       /* JSON-RPC code; 0: no error */
        const char *name;               /* the hub's short name ("InvalidTopic"), or NULL */
        char *foreign_name;             /* a server's own error name, or NULL */
        char *message;
        bool code_from_server;          /* code is the server's own, not the name's */
} OpError;

/* Output of one operation beyond its answer; a face fills in what it has. */
struct OpCall {
        Hub *hub;
        Client *client;                 /* NULL only for OP_ANONYMOUS on a face that has none */
        const OpMethod *method;
        bool can_defer;                 /* the face can answer later (not the FIFO) */
        uint32_t max_wait_ms;           /* the longest a request may wait on this face; 0: no limit */

        /* Set by the operation: */
        uint64_t deferred;              /* non-zero: answered later, see op_answer_key() */
        uint64_t replay_id;             /* a subscription whose retained values follow the answer */
        bool durable;                   /* hold the answer until hub_durable_wait() says so */
        OpError error;
};
