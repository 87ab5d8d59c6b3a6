/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.c: see errors.h. Arguments are shown with control characters
 * escaped, so a key holding a newline cannot split the message.
 */
#include <errno.h>
#include <inttypes.h>

#include "core/errors.h"

static char *shown(const char *what) {
        char high[129];

        /* Escape C0 controls, quotes and backslashes; keep UTF-8 (bytes >= 0x80) readable. */
        for (int i = 0; i < 128; i++)
                high[i] = (char) (0x80 + i);
        high[128] = '\0';
        return g_strescape(what ?: "", high);
}

static const char *arg_noun(HubArg arg) {
        switch (arg) {
        case HUB_ARG_TOPIC:
                return "Topic";
        case HUB_ARG_PATTERN:
                return "Pattern";
        case HUB_ARG_KEY:
                return "Key";
        case HUB_ARG_PREFIX:
                return "Prefix";
        case HUB_ARG_SUBSCRIPTION:
                return "Subscription";
        case HUB_ARG_WATCH:
                return "Watch";
        case HUB_ARG_CLIENT:
                return "Client";
        case HUB_ARG_QUEUE:
                return "Queue";
        case HUB_ARG_JOB:
                return "Job";
        case HUB_ARG_SERVICE:
                return "Name";
        case HUB_ARG_CALL:
                return "Call";
        }
        g_assert_not_reached();
}

/**
 * hub_error_explain() - name and message for the core's error @r about @what
 * @arg: which kind of argument @what is
 * @size: for -EMSGSIZE, the size of the payload or value
 * @ret_name: "InvalidTopic", "InvalidPattern", "InvalidKey", "InvalidQueue",
 *            "NotFound", "Conflict", "LimitExceeded", "NoJob" or
 *            "StorageFailed"; static
 * @ret_message: a sentence for a person; free with g_free()
 *
 * Return: 0, or @r itself for an errno that is not one of hub.h's (a bug
 * or a system error the caller reports as such).
 */
int hub_error_explain(int r, const HubLimits *limits, HubArg arg, const char *what, size_t size,
                      const char **ret_name, char **ret_message) {
        g_autofree char *w = shown(what);
        const char *noun = arg_noun(arg), *name;
        char *msg;

        switch (r) {
        case -EINVAL:
                if (arg == HUB_ARG_SERVICE) {
                        name = "InvalidName";
                        msg = g_strdup_printf("Invalid service name '%s': like a topic, dot-separated, non-empty "
                                              "tokens of letters, digits, '_' and '-', e.g. 'weather.now'.", w);
                } else if (arg == HUB_ARG_QUEUE) {
                        name = "InvalidQueue";
                        msg = g_strdup_printf("Invalid queue name '%s': like a topic, dot-separated, non-empty "
                                              "tokens of letters, digits, '_' and '-', e.g. 'jobs.mail'.", w);
                } else if (arg == HUB_ARG_TOPIC) {
                        name = "InvalidTopic";
                        msg = g_strdup_printf("Invalid topic '%s': a topic is dot-separated, non-empty tokens of "
                                              "letters, digits, '_' and '-' (no wildcards), e.g. "
                                              "'sensors.kitchen.temp'.", w);
                } else if (arg == HUB_ARG_PATTERN) {
                        name = "InvalidPattern";
                        msg = g_strdup_printf("Invalid pattern '%s': tokens of letters, digits, '_' and '-', "
                                              "'*' for exactly one token, '>' as the last token for one or "
                                              "more, e.g. 'sensors.*.temp' or 'sensors.>'.", w);
                } else {
                        name = "InvalidKey";
                        msg = g_strdup_printf("Invalid %s '%s': it must be%s valid UTF-8 without control "
                                              "characters.", arg == HUB_ARG_KEY ? "key" : "prefix", w,
                                              arg == HUB_ARG_KEY ? " non-empty" : "");
                }
                break;
        case -ENAMETOOLONG:
                name = "LimitExceeded";
                if (arg == HUB_ARG_TOPIC || arg == HUB_ARG_PATTERN || arg == HUB_ARG_QUEUE ||
                    arg == HUB_ARG_SERVICE)
                        msg = g_strdup_printf("%s is too long: at most %zu bytes and %u tokens.", noun,
                                              limits->max_topic_length, limits->max_topic_tokens);
                else
                        msg = g_strdup_printf("%s is too long: at most %zu bytes.", noun,
                                              limits->max_key_length);
                break;
        case -EMSGSIZE:
                name = "LimitExceeded";
                if (arg == HUB_ARG_KEY)
                        msg = g_strdup_printf("Value of %zu bytes for key '%s' exceeds the limit of %zu bytes.",
                                              size, w, limits->max_value);
                else
                        msg = g_strdup_printf("Payload of %zu bytes for %s '%s' exceeds the limit of %zu "
                                              "bytes.", size, arg == HUB_ARG_QUEUE ? "queue" :
                                              arg == HUB_ARG_SERVICE ? "service" : "topic", w,
                                              limits->max_payload);
                break;
        case -EDQUOT:
                name = "LimitExceeded";
                switch (arg) {
                case HUB_ARG_TOPIC:
                        msg = g_strdup_printf("Cannot retain '%s': the hub holds %u retained topics already; "
                                              "clear some with ClearRetained.", w, limits->max_retained);
                        break;
                case HUB_ARG_PATTERN:
                        msg = g_strdup_printf("Too many subscriptions: at most %u per client; unsubscribe "
                                              "first.", limits->max_subscriptions);
                        break;
                case HUB_ARG_KEY:
                        msg = g_strdup_printf("Cannot create key '%s': the store holds %u keys already.", w,
                                              limits->max_keys);
                        break;
                case HUB_ARG_PREFIX:
                        msg = g_strdup_printf("Too many watches: at most %u per client; unwatch first.",
                                              limits->max_watches);
                        break;
                case HUB_ARG_SERVICE:
                        msg = g_strdup_printf("Too many names served or calls pending: at most %u names served "
                                              "and %u calls pending per client.", limits->max_served,
                                              limits->max_calls);
                        break;
                case HUB_ARG_QUEUE:
                        msg = g_strdup_printf("Queue '%s' cannot take more: at most %u queues, %u jobs per queue, "
                                              "and %u jobs reserved or reserves waiting per client.", w,
                                              limits->max_queues, limits->max_jobs, limits->max_reservations);
                        break;
                default:
                        msg = g_strdup_printf("Too many clients: the hub serves at most %u.",
                                              limits->max_clients);
                }
                break;
        case -ERANGE:
                name = "LimitExceeded";
                if (arg == HUB_ARG_SERVICE)
                        msg = g_strdup_printf("The timeout is too long: at most %" PRIu64 " seconds.",
                                              limits->max_call_timeout / G_USEC_PER_SEC);
                else
                        msg = g_strdup_printf("The delay is too long: at most %" PRIu64 " seconds.",
                                              limits->max_delay / G_USEC_PER_SEC);
                break;
        case -EEXIST:
                name = "Conflict";
                msg = g_strdup_printf("This client serves '%s' already.", w);
                break;
        case -EHOSTUNREACH:
                name = "NoServer";
                msg = g_strdup_printf("Nobody serves '%s'.", w);
                break;
        case -EAGAIN:
                name = "NoJob";
                msg = g_strdup_printf("No job is ready in queue '%s'.", w);
                break;
        case -ENOSPC:
        case -EIO:
                name = "StorageFailed";
                msg = g_strdup_printf("The hub could not write the change to disk (%s); nothing was changed. "
                                      "Reading still works.", g_strerror(-r));
                break;
        case -ENOENT:
                name = "NotFound";
                if (arg == HUB_ARG_SERVICE)
                        msg = g_strdup_printf("This client does not serve '%s'.", w);
                else if (arg == HUB_ARG_CALL)
                        msg = g_strdup_printf("Call %s is not pending at this client: it timed out, its caller "
                                              "left, or it went to another server.", w);
                else if (arg == HUB_ARG_JOB)
                        msg = g_strdup_printf("Job %s is not reserved by this client (acked, expired, or "
                                              "never reserved).", w);
                else if (arg == HUB_ARG_QUEUE)
                        msg = g_strdup_printf("No job is ready in queue '%s'.", w);
                else if (arg == HUB_ARG_KEY)
                        msg = g_strdup_printf("No key '%s'.", w);
                else
                        msg = g_strdup_printf("%s %s does not exist or belongs to another client.", noun, w);
                break;
        case -ESTALE:
                name = "Conflict";
                msg = g_strdup_printf("Key '%s' is not at the expected revision; get it again and retry.", w);
                break;
        default:
                return r;
        }

        *ret_name = name;
        *ret_message = msg;
        return 0;
}
