/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ops.c: running an operation (see ops.h), and the answers that come
 * later. The core handlers, one per operation, are in ops-handlers.c.
 *
 * Durability is decided here, for every face alike: an operation that
 * journaled a record whose sync is still pending is answered only once the
 * journal says it is durable (call->durable). An operation not declared
 * Durable in the XML that journals anyway is a bug in the XML, logged.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "core/errors.h"
#include "ops/ops.h"

/**
 * op_invoke() - run @call->method's handler on @in, answering into @out
 *
 * Return: 0 (see call->deferred, call->durable), or a negative errno with
 * call->error set for the caller; a negative errno without call->error is
 * an internal error (a bug or a system error) the face reports as such.
 */
int op_invoke(OpCall *call, const OpArgs *in, OpResult *out) {
        uint64_t mark = hub_journal_mark(call->hub);
        int r;

        r = op_handlers[call->method - op_methods](call, in, out);
        if (hub_journal_mark(call->hub) != mark && !(call->method->flags & OP_DURABLE))
                g_warning("%s changed durable state but is not declared Durable in the interface XML.",
                          call->method->dbus);
        if (r >= 0 && hub_durable_pending(call->hub, mark))
                call->durable = true;
        return r;
}

/**
 * op_call_done() - what follows an answer once the face has queued it:
 * the retained values a subscribe asked for
 */
void op_call_done(OpCall *call) {
        if (call->replay_id != 0 && call->client)
                (void) hub_replay_retained(call->hub, call->client, call->replay_id);
        call->replay_id = 0;
}

/**
 * op_call_clear() - free what @call->error holds
 */
void op_call_clear(OpCall *call) {
        g_clear_pointer(&call->error.foreign_name, g_free);
        g_clear_pointer(&call->error.message, g_free);
        call->error = (OpError) {};
}

static void error_set(OpCall *call, const char *name, char *message) {
        const HubError *e = hub_error_find(name);

        g_assert(e);
        op_call_clear(call);
        call->error.code = e->code;
        call->error.name = e->name;
        call->error.message = message;
}

/**
 * op_fail() - explain the core's error @r about @what in call->error
 * @arg: what kind of argument @what is; @size: for -EMSGSIZE
 *
 * Return: @r, for the handler to return.
 */
int op_fail(OpCall *call, int r, HubArg arg, const char *what, size_t size) {
        const char *name;
        char *message;

        if (hub_error_explain(r, hub_get_limits(call->hub), arg, what, size, &name, &message) >= 0)
                error_set(call, name, message);
        return r;
}

/* op_fail() about an id (subscription, watch, job, call). */
int op_fail_id(OpCall *call, int r, HubArg arg, uint64_t id, size_t size) {
        char what[24];

        g_snprintf(what, sizeof what, "%" PRIu64, id);
        return op_fail(call, r, arg, what, size);
}

/**
 * op_fail_name() - set call->error to the hub error @name with a message
 *
 * Return: -EINVAL, for the handler to return.
 */
int op_fail_name(OpCall *call, const char *name, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        error_set(call, name, g_strdup_vprintf(format, ap));
        va_end(ap);
        return -EINVAL;
}

/**
 * op_answer_key() - the key a face keeps a deferred request under: the
 * wait id of a reserve (ENVELOPE_JOB) or the call id of a call
 * (ENVELOPE_REPLY), apart, since the two count separately
 */
uint64_t op_answer_key(EnvelopeKind kind, uint64_t id) {
        return id << 1 | (kind == ENVELOPE_REPLY);
}

static void answer_error(OpCall *call, const Envelope *e) {
        const HubError *own = e->error_from_hub ? hub_error_find(e->error_name) : NULL;

        op_call_clear(call);
        call->error.message = g_strdup(e->error_message ?: "");
        if (own) {
                call->error.name = own->name;
                call->error.code = own->code;
        } else {
                call->error.foreign_name = g_strdup(e->error_name);
                call->error.code = hub_error_find("ServerError")->code;
        }
        /* A server's own code passes through, with or without a name of its own. */
        if (e->error_code != 0) {
                call->error.code = e->error_code;
                call->error.code_from_server = true;
        }
}

/**
 * op_answer() - the late answer @e (ENVELOPE_JOB or ENVELOPE_REPLY) to a
 * deferred request, as that request's result in @out (with the in-args
 * the result repeats in @in), or as call->error
 *
 * @out and @in borrow from @e.
 *
 * Return: 0, or -EINVAL with call->error set.
 */
int op_answer(const Envelope *e, OpCall *call, OpArgs *in, OpResult *out) {
        switch (e->kind) {
        case ENVELOPE_JOB:
                in->queue = e->topic;
                if (e->seq == 0)
                        return op_fail_name(call, "NoJob", "No job became ready in queue '%s' in time.", e->topic);
                out->id = e->seq;
                out->payload = (OpBytes) { e->payload, e->payload_len };
                out->attempts = e->attempts;
                return 0;
        case ENVELOPE_REPLY:
                if (e->error_name) {
                        answer_error(call, e);
                        return -EINVAL;
                }
                out->payload = (OpBytes) { e->payload, e->payload_len };
                return 0;
        default:
                g_assert_not_reached();
        }
}

/**
 * op_error_name() - the full error name of @e: a server's own, or the
 * hub's under the interface's error prefix (in @buf)
 */
const char *op_error_name(const OpError *e, char *buf, size_t size) {
        if (e->foreign_name)
                return e->foreign_name;
        g_snprintf(buf, size, OPS_ERROR_PREFIX "%s", e->name ?: "Failed");
        return buf;
}

