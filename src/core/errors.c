/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * errors.c: see errors.h. Arguments are shown with control characters
 * escaped, so a key holding a newline cannot split the message.
 */
#include <errno.h>

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
        }
        g_assert_not_reached();
}

/**
 * hub_error_explain() - name and message for the core's error @r about @what
 * @arg: which kind of argument @what is
 * @size: for -EMSGSIZE, the size of the payload or value
 * @ret_name: "InvalidTopic", "InvalidPattern", "InvalidKey", "NotFound",
 *            "Conflict" or "LimitExceeded"; static
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
                if (arg == HUB_ARG_TOPIC) {
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
                if (arg == HUB_ARG_TOPIC || arg == HUB_ARG_PATTERN)
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
                        msg = g_strdup_printf("Payload of %zu bytes for topic '%s' exceeds the limit of %zu "
                                              "bytes.", size, w, limits->max_payload);
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
                default:
                        msg = g_strdup_printf("Too many clients: the hub serves at most %u.",
                                              limits->max_clients);
                }
                break;
        case -ENOENT:
                name = "NotFound";
                if (arg == HUB_ARG_KEY)
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
