/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-errors.c: see dbus-errors.h. Messages name the offending argument
 * and the rule or limit it broke, so that a busctl user can fix the call
 * without reading the source.
 */
#include <errno.h>

#include "dbus/dbus-errors.h"

static const char *arg_noun(DbusArg arg) {
        switch (arg) {
        case DBUS_ARG_TOPIC:
                return "Topic";
        case DBUS_ARG_PATTERN:
                return "Pattern";
        case DBUS_ARG_KEY:
                return "Key";
        case DBUS_ARG_PREFIX:
                return "Prefix";
        case DBUS_ARG_SUBSCRIPTION:
                return "Subscription";
        case DBUS_ARG_WATCH:
                return "Watch";
        }
        g_assert_not_reached();
}

/**
 * dbus_error_from_errno() - set @error for the core's @r about @what
 * @arg: which kind of argument @what is
 * @size: for -EMSGSIZE, the size of the payload or value
 *
 * Return: the value a vtable handler returns: a negative errno, or the
 * result of sd_bus_error_set*() for the errnos documented in hub.h.
 */
int dbus_error_from_errno(sd_bus_error *error, int r, const HubLimits *limits, DbusArg arg,
                          const char *what, size_t size) {
        const char *noun = arg_noun(arg);

        switch (r) {
        case -EINVAL:
                switch (arg) {
                case DBUS_ARG_TOPIC:
                        return sd_bus_error_setf(error, SB_ERROR_INVALID_TOPIC,
                                                 "Invalid topic '%s': a topic is dot-separated, non-empty tokens "
                                                 "of letters, digits, '_' and '-' (no wildcards), e.g. "
                                                 "'sensors.kitchen.temp'.", what);
                case DBUS_ARG_PATTERN:
                        return sd_bus_error_setf(error, SB_ERROR_INVALID_PATTERN,
                                                 "Invalid pattern '%s': tokens of letters, digits, '_' and '-', "
                                                 "'*' for exactly one token, '>' as the last token for one or "
                                                 "more, e.g. 'sensors.*.temp' or 'sensors.>'.", what);
                default:
                        return sd_bus_error_setf(error, SB_ERROR_INVALID_KEY,
                                                 "Invalid %s '%s': it must be%s valid UTF-8 without control "
                                                 "characters.", arg == DBUS_ARG_KEY ? "key" : "prefix",
                                                 what, arg == DBUS_ARG_KEY ? " non-empty" : "");
                }
        case -ENAMETOOLONG:
                if (arg == DBUS_ARG_TOPIC || arg == DBUS_ARG_PATTERN)
                        return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                                 "%s is too long: at most %zu bytes and %u tokens.", noun,
                                                 limits->max_topic_length, limits->max_topic_tokens);
                return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                         "%s is too long: at most %zu bytes.", noun, limits->max_key_length);
        case -EMSGSIZE:
                if (arg == DBUS_ARG_KEY)
                        return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                                 "Value of %zu bytes for key '%s' exceeds the limit of %zu bytes.",
                                                 size, what, limits->max_value);
                return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                         "Payload of %zu bytes for topic '%s' exceeds the limit of %zu bytes.",
                                         size, what, limits->max_payload);
        case -EDQUOT:
                switch (arg) {
                case DBUS_ARG_TOPIC:
                        return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                                 "Cannot retain '%s': the hub holds %u retained topics already; "
                                                 "clear some with ClearRetained.", what, limits->max_retained);
                case DBUS_ARG_PATTERN:
                        return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                                 "Too many subscriptions: at most %u per client; Unsubscribe first.",
                                                 limits->max_subscriptions);
                case DBUS_ARG_KEY:
                        return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                                 "Cannot create key '%s': the store holds %u keys already.",
                                                 what, limits->max_keys);
                case DBUS_ARG_PREFIX:
                        return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                                 "Too many watches: at most %u per client; Unwatch first.",
                                                 limits->max_watches);
                default:
                        return sd_bus_error_setf(error, SB_ERROR_LIMIT_EXCEEDED,
                                                 "Too many clients: the hub serves at most %u.",
                                                 limits->max_clients);
                }
        case -ENOENT:
                if (arg == DBUS_ARG_KEY)
                        return sd_bus_error_setf(error, SB_ERROR_NOT_FOUND, "No key '%s'.", what);
                return sd_bus_error_setf(error, SB_ERROR_NOT_FOUND,
                                         "%s %s does not exist or belongs to another client.", noun, what);
        case -ESTALE:
                return sd_bus_error_setf(error, SB_ERROR_CONFLICT,
                                         "Key '%s' is not at the expected revision; Get it again and retry.",
                                         what);
        default:
                return r;
        }
}
