/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fake-client.c: see fake-client.h. Copies everything out of each Envelope
 * because the core's envelopes live on its stack only for the call.
 */
#include <errno.h>
#include <string.h>

#include "fake-client.h"

static void fake_envelope_free(FakeEnvelope *e) {
        g_free(e->topic);
        g_bytes_unref(e->payload);
        g_free(e->sender_transport);
        g_free(e->sender_name);
        g_free(e->error_name);
        g_free(e->error_message);
        g_free(e->event);
        g_free(e);
}

static int fake_deliver(Client *c, const Envelope *e) {
        FakeClient *f = (FakeClient *) c;
        FakeEnvelope *copy;

        g_assert(c->sink == &fake_sink);
        if (f->full || f->budget == 0) {
                f->n_refused++;
                return -ENOBUFS;
        }
        if (f->budget > 0)
                f->budget--;

        copy = g_new0(FakeEnvelope, 1);
        *copy = (FakeEnvelope) {
                .kind = e->kind,
                .sub_id = e->sub_id,
                .topic = g_strdup(e->topic),
                .payload = g_bytes_new(e->payload, e->payload_len),
                .seq = e->seq,
                .retained = e->retained,
                .deleted = e->deleted,
                .gap_first = e->gap_first,
                .gap_last = e->gap_last,
                .attempts = e->attempts,
                .event = g_strdup(e->event),
                .object_id = e->object_id,
                .error_name = g_strdup(e->error_name),
                .error_code = e->error_code,
                .error_from_hub = e->error_from_hub,
                .error_message = g_strdup(e->error_message),
                .has_sender = e->sender != NULL,
        };
        if (e->sender) {
                copy->sender_id = e->sender->id;
                copy->sender_uid = e->sender->uid;
                copy->sender_transport = g_strdup(e->sender->transport);
                copy->sender_name = g_strdup(e->sender->name);
        }
        g_ptr_array_add(f->delivered, copy);
        return 0;
}

const ClientSink fake_sink = {
        .transport = "fake",
        .deliver = fake_deliver,
};

/**
 * fake_client_new_full() - a fake client linked into @hub
 * @internal: like the D-Bus broadcaster: not counted, not limited
 *
 * Return: 0, or client_init()'s error (-EDQUOT over max_clients).
 */
int fake_client_new_full(Hub *hub, uid_t uid, bool internal, FakeClient **ret) {
        static unsigned n_names = 0;
        g_autofree FakeClient *f = g_new0(FakeClient, 1);
        g_autofree char *name = g_strdup_printf(":fake.%u", ++n_names);
        int r;

        r = client_init(&f->client, hub, &fake_sink, uid, 4242, name, internal);
        if (r < 0)
                return r;
        f->delivered = g_ptr_array_new_with_free_func((GDestroyNotify) fake_envelope_free);
        f->budget = -1;
        *ret = g_steal_pointer(&f);
        return 0;
}

/**
 * fake_client_new() - a counted fake client; fails the test if the hub refuses it
 */
FakeClient *fake_client_new(Hub *hub, uid_t uid) {
        FakeClient *f = NULL;
        int r;

        r = fake_client_new_full(hub, uid, false, &f);
        if (r < 0)
                g_error("client_init() failed: %s", g_strerror(-r));
        return f;
}

/**
 * fake_client_free() - client_deinit() and free; accepts NULL and a client
 * that was deinitialised already
 */
FakeClient *fake_client_free(FakeClient *f) {
        if (!f)
                return NULL;
        client_deinit(&f->client);
        g_clear_pointer(&f->delivered, g_ptr_array_unref);
        g_free(f);
        return NULL;
}

const FakeEnvelope *fake_client_get(FakeClient *f, unsigned i) {
        g_assert(i < f->delivered->len);
        return f->delivered->pdata[i];
}

unsigned fake_client_count(FakeClient *f, EnvelopeKind kind) {
        unsigned n = 0;

        for (unsigned i = 0; i < f->delivered->len; i++)
                if (((FakeEnvelope *) f->delivered->pdata[i])->kind == kind)
                        n++;
        return n;
}

void fake_client_clear(FakeClient *f) {
        g_ptr_array_set_size(f->delivered, 0);
}

bool fake_envelope_payload_is(const FakeEnvelope *e, const char *text) {
        gsize len;
        const void *data = g_bytes_get_data(e->payload, &len);

        return len == strlen(text) && (len == 0 || memcmp(data, text, len) == 0);
}

/*
 * Under -Db_sanitize=address,undefined, make every report fatal: a test
 * (a forked child) that trips UBSan or leaks then fails instead of
 * printing and passing. Without sanitizers nothing calls these.
 */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) {
        return "halt_on_error=1:abort_on_error=1:print_stacktrace=1";
}

const char *__asan_default_options(void);
const char *__asan_default_options(void) {
        return "abort_on_error=1:detect_leaks=1";
}

Hub *test_hub_new(const HubLimits *limits) {
        HubLimits defaults;

        if (!limits) {
                hub_limits_default(&defaults);
                limits = &defaults;
        }
        return hub_new(limits, 1700000000000000ULL);
}
