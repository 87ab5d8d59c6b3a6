/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ops.h: running an operation of the op table, for the faces. A face finds
 * the OpMethod (op_method_by_dbus(), op_method_by_jsonrpc()), fills OpArgs
 * by the descriptor's params, and calls op_invoke(). What comes back is the
 * answer (OpResult, by the descriptor's out-params) or call->error; and,
 * set by the operation: whether the answer must wait for the disk
 * (call->durable: hand it to hub_durable_wait() first), whether it comes
 * later (call->deferred: the face keeps the request under op_answer_key()
 * and answers when the client's sink gets the matching ENVELOPE_JOB or
 * ENVELOPE_REPLY, through op_answer()), and retained values to replay
 * once the answer is queued (op_call_done()).
 */
#pragma once

#include "core/errors.h"
#include "ops/ops-table.h"

int op_invoke(OpCall *call, const OpArgs *in, OpResult *out);
void op_call_done(OpCall *call);
void op_call_clear(OpCall *call);

int op_fail(OpCall *call, int r, HubArg arg, const char *what, size_t size);
int op_fail_id(OpCall *call, int r, HubArg arg, uint64_t id, size_t size);
int op_fail_name(OpCall *call, const char *name, const char *format, ...) G_GNUC_PRINTF(3, 4);

uint64_t op_answer_key(EnvelopeKind kind, uint64_t id);
int op_answer(const Envelope *e, OpCall *call, OpArgs *in, OpResult *out);

const char *op_error_name(const OpError *e, char *buf, size_t size);
GVariant *op_info_dict(Hub *h, const Client *caller);
