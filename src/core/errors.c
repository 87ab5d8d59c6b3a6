/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.c: see errors.h. Arguments are shown with control characters
 * escaped, so a key holding a newline cannot split the message.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "core/errors.h"

const HubError hub_errors[] = {
        { "InvalidTopic",  -32001, "a topic that breaks the topic grammar" },
        { "InvalidPattern", -32002, "a pattern that breaks the pattern grammar" },
        { "InvalidKey",    -32003, "a key or prefix that is not text (valid UTF-8, no controls, no noncharacters)" },
        { "NotFound",      -32004, "no such key, subscription, watch, job, served name or call" },
        { "Conflict",      -32005, "compare-and-set saw another revision; a name served twice" },
        { "LimitExceeded", -32006, "a size, count or duration over its limit" },
        { "InvalidQueue",  -32007, "a queue name that breaks the topic grammar" },
        { "NoJob",         -32008, "no job was ready in time" },
        { "StorageFailed", -32009, "the change could not be written to disk; nothing changed" },
        { "InvalidName",   -32010, "a served name that breaks the topic grammar" },
        { "NoServer",      -32011, "nobody serves the name called" },
        { "Timeout",       -32012, "the server did not reply in time" },
        { "ServerGone",    -32013, "the server left before it replied" },
        { "ServerError",   -32014, "the server answered with an error of its own" },
        { "NotText",       -32015, "the bytes are not UTF-8 text and the face carries text only" },
        { "AccessDenied",  -32016, "a TCP connection without the right token (hub.auth) first" },
};
const unsigned hub_n_errors = G_N_ELEMENTS(hub_errors);

/**
 * hub_error_find() - the row of the error named @name ("InvalidTopic"), or NULL
 */
const HubError *hub_error_find(const char *name) {
        for (unsigned i = 0; i < hub_n_errors; i++)
                if (strcmp(hub_errors[i].name, name) == 0)
                        return &hub_errors[i];
        return NULL;
}

static char *shown(const char *what) {
        char high[129];

        /* Escape C0 controls, quotes and backslashes; keep UTF-8 (bytes >= 0x80) readable. */
        for (int i = 0; i < 128; i++)
                high[i] = (char) (0x80 + i);
        high[128] = '\0';
        return g_strescape(what ?: "", high);
}

static const char *arg_noun(HubArg arg) {
        static const char *const nouns[] = {
                [HUB_ARG_TOPIC] = "Topic",
                [HUB_ARG_PATTERN] = "Pattern",
                [HUB_ARG_KEY] = "Key",
                [HUB_ARG_PREFIX] = "Prefix",
                [HUB_ARG_SUBSCRIPTION] = "Subscription",
                [HUB_ARG_WATCH] = "Watch",
                [HUB_ARG_CLIENT] = "Client",
                [HUB_ARG_QUEUE] = "Queue",
                [HUB_ARG_JOB] = "Job",
                [HUB_ARG_SERVICE] = "Name",
                [HUB_ARG_CALL] = "Call",
                [HUB_ARG_MONITOR] = "Monitor",
        };

        g_assert((size_t) arg < G_N_ELEMENTS(nouns));
        return nouns[arg];
}

/* What an explanation needs; each explain_*() returns the name and sets ->message. */
typedef struct Explain {
        int r;
        const HubLimits *limits;
        HubArg arg;
        const char *w;                  /* the argument, shown */
        size_t size;
        char *message;
} Explain;

static bool arg_is_name(HubArg arg) {
        return arg == HUB_ARG_TOPIC || arg == HUB_ARG_PATTERN || arg == HUB_ARG_QUEUE || arg == HUB_ARG_SERVICE;
}

static const char *explain_invalid(Explain *x) {
        static const char tokens[] = "dot-separated, non-empty tokens of letters, digits, '_' and '-'";

        switch (x->arg) {
        case HUB_ARG_SERVICE:
                x->message = g_strdup_printf("Invalid service name '%s': like a topic, %s, e.g. 'weather.now'.",
                                             x->w, tokens);
                return "InvalidName";
        case HUB_ARG_QUEUE:
                x->message = g_strdup_printf("Invalid queue name '%s': like a topic, %s, e.g. 'jobs.mail'.",
                                             x->w, tokens);
                return "InvalidQueue";
        case HUB_ARG_TOPIC:
                x->message = g_strdup_printf("Invalid topic '%s': a topic is %s (no wildcards), e.g. "
                                             "'sensors.kitchen.temp'.", x->w, tokens);
                return "InvalidTopic";
        case HUB_ARG_PATTERN:
                x->message = g_strdup_printf("Invalid pattern '%s': tokens of letters, digits, '_' and '-', "
                                             "'*' for exactly one token, '>' as the last token for one or "
                                             "more, e.g. 'sensors.*.temp' or 'sensors.>'.", x->w);
                return "InvalidPattern";
        default:
                x->message = g_strdup_printf("Invalid %s '%s': it must be%s valid UTF-8 without control "
                                             "characters or Unicode noncharacters.", x->arg == HUB_ARG_KEY ? "key" : "prefix", x->w,
                                             x->arg == HUB_ARG_KEY ? " non-empty" : "");
                return "InvalidKey";
        }
}

static const char *explain_too_long(Explain *x) {
        if (arg_is_name(x->arg))
                x->message = g_strdup_printf("%s is too long: at most %zu bytes and %u tokens.", arg_noun(x->arg),
                                             x->limits->max_topic_length, x->limits->max_topic_tokens);
        else
                x->message = g_strdup_printf("%s is too long: at most %zu bytes.", arg_noun(x->arg),
                                             x->limits->max_key_length);
        return "LimitExceeded";
}

static const char *explain_too_big(Explain *x) {
        static const char *const what[] = {
                [HUB_ARG_QUEUE] = "queue",
                [HUB_ARG_SERVICE] = "service",
                [HUB_ARG_CALL] = "call",
        };
        const char *noun = (size_t) x->arg < G_N_ELEMENTS(what) && what[x->arg] ? what[x->arg] : "topic";

        if (x->arg == HUB_ARG_KEY)
                x->message = g_strdup_printf("Value of %zu bytes for key '%s' exceeds the limit of %zu bytes.",
                                             x->size, x->w, x->limits->max_value);
        else if (x->arg == HUB_ARG_CALL)
                x->message = g_strdup_printf("Reply of %zu bytes to call %s exceeds the limit of %zu bytes.",
                                             x->size, x->w, x->limits->max_payload);
        else
                x->message = g_strdup_printf("Payload of %zu bytes for %s '%s' exceeds the limit of %zu bytes.",
                                             x->size, noun, x->w, x->limits->max_payload);
        return "LimitExceeded";
}

static const char *explain_quota(Explain *x) {
        const HubLimits *l = x->limits;

        switch (x->arg) {
        case HUB_ARG_TOPIC:
                x->message = g_strdup_printf("Cannot retain '%s': the hub holds %u retained topics already; "
                                             "clear some with ClearRetained.", x->w, l->max_retained);
                break;
        case HUB_ARG_PATTERN:
                x->message = g_strdup_printf("Too many subscriptions: at most %u per client; unsubscribe first.",
                                             l->max_subscriptions);
                break;
        case HUB_ARG_KEY:
                x->message = g_strdup_printf("Cannot create key '%s': the store holds %u keys already.", x->w,
                                             l->max_keys);
                break;
        case HUB_ARG_PREFIX:
                x->message = g_strdup_printf("Too many watches: at most %u per client; unwatch first.",
                                             l->max_watches);
                break;
        case HUB_ARG_SERVICE:
                x->message = g_strdup_printf("Too many names served or calls pending: at most %u names served "
                                             "and %u calls pending per client.", l->max_served, l->max_calls);
                break;
        case HUB_ARG_QUEUE:
                x->message = g_strdup_printf("Queue '%s' cannot take more: at most %u queues, %u jobs per queue, "
                                             "and %u jobs reserved or reserves waiting per client.", x->w,
                                             l->max_queues, l->max_jobs, l->max_reservations);
                break;
        case HUB_ARG_MONITOR:
                x->message = g_strdup_printf("Too many monitors: at most %u per client; unmonitor first.",
                                             l->max_subscriptions);
                break;
        default:
                x->message = g_strdup_printf("Too many clients: the hub serves at most %u.", l->max_clients);
        }
        return "LimitExceeded";
}

static const char *explain_range(Explain *x) {
        if (x->arg == HUB_ARG_SERVICE)
                x->message = g_strdup_printf("The timeout is too long: at most %" PRIu64 " seconds.",
                                             x->limits->max_call_timeout / G_USEC_PER_SEC);
        else
                x->message = g_strdup_printf("The delay is too long: at most %" PRIu64 " seconds.",
                                             x->limits->max_delay / G_USEC_PER_SEC);
        return "LimitExceeded";
}

static const char *explain_not_found(Explain *x) {
        switch (x->arg) {
        case HUB_ARG_SERVICE:
                x->message = g_strdup_printf("This client does not serve '%s'.", x->w);
                break;
        case HUB_ARG_CALL:
                x->message = g_strdup_printf("Call %s is not pending at this client: it timed out, its caller "
                                             "left, or it went to another server.", x->w);
                break;
        case HUB_ARG_JOB:
                x->message = g_strdup_printf("Job %s is not reserved by this client (acked, expired, or never "
                                             "reserved).", x->w);
                break;
        case HUB_ARG_QUEUE:
                x->message = g_strdup_printf("No job is ready in queue '%s'.", x->w);
                break;
        case HUB_ARG_KEY:
                x->message = g_strdup_printf("No key '%s'.", x->w);
                break;
        default:
                x->message = g_strdup_printf("%s %s does not exist or belongs to another client.",
                                             arg_noun(x->arg), x->w);
        }
        return "NotFound";
}

static const char *explain_other(Explain *x) {
        switch (x->r) {
        case -EEXIST:
                x->message = g_strdup_printf("This client serves '%s' already.", x->w);
                return "Conflict";
        case -ESTALE:
                x->message = g_strdup_printf("Key '%s' is not at the expected revision; get it again and retry.",
                                             x->w);
                return "Conflict";
        case -EHOSTUNREACH:
                x->message = g_strdup_printf("Nobody serves '%s'.", x->w);
                return "NoServer";
        case -EAGAIN:
                x->message = g_strdup_printf("No job is ready in queue '%s'.", x->w);
                return "NoJob";
        case -ENOSPC:
        case -EIO:
                x->message = g_strdup_printf("The hub could not write the change to disk (%s); nothing was "
                                             "changed. Reading still works.", g_strerror(-x->r));
                return "StorageFailed";
        default:
                return NULL;
        }
}

/**
 * hub_error_explain() - name and message for the core's error @r about @what
 * @arg: which kind of argument @what is
 * @size: for -EMSGSIZE, the size of the payload or value
 * @ret_name: a name of hub_errors[]; static
 * @ret_message: a sentence for a person; free with g_free()
 *
 * Return: 0, or @r itself for an errno that is not one of hub.h's (a bug
 * or a system error the caller reports as such).
 */
int hub_error_explain(int r, const HubLimits *limits, HubArg arg, const char *what, size_t size,
                      const char **ret_name, char **ret_message) {
        g_autofree char *w = shown(what);
        Explain x = { .r = r, .limits = limits, .arg = arg, .w = w, .size = size };
        const char *name;

        switch (r) {
        case -EINVAL:
                name = explain_invalid(&x);
                break;
        case -ENAMETOOLONG:
                name = explain_too_long(&x);
                break;
        case -EMSGSIZE:
                name = explain_too_big(&x);
                break;
        case -EDQUOT:
                name = explain_quota(&x);
                break;
        case -ERANGE:
                name = explain_range(&x);
                break;
        case -ENOENT:
                name = explain_not_found(&x);
                break;
        default:
                name = explain_other(&x);
        }
        if (!name)
                return r;

        g_assert(hub_error_find(name));
        *ret_name = name;
        *ret_message = x.message;
        return 0;
}
