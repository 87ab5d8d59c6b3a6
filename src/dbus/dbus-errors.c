/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-errors.c: see dbus-errors.h.
 */
#include <string.h>

#include "dbus/dbus-errors.h"

/**
 * dbus_error_name_valid() - whether @name can be a D-Bus error name: two or
 * more dot-separated elements of [A-Za-z0-9_], none starting with a digit,
 * at most 255 bytes
 */
bool dbus_error_name_valid(const char *name) {
        unsigned elements = 0;

        if (!name || strlen(name) > 255)
                return false;
        for (const char *p = name;; p++) {
                const char *start = p;

                while (g_ascii_isalnum(*p) || *p == '_')
                        p++;
                if (p == start || g_ascii_isdigit(*start))
                        return false;
                elements++;
                if (*p == '\0')
                        break;
                if (*p != '.')
                        return false;
        }
        return elements >= 2;
}

/**
 * dbus_error_from_errno() - set @error for the core's @r about @what
 * @arg: which kind of argument @what is
 * @size: for -EMSGSIZE, the size of the payload or value
 *
 * Return: what a vtable handler returns: the result of sd_bus_error_set()
 * for the errnos documented in hub.h, @r itself for any other.
 */
int dbus_error_from_errno(sd_bus_error *error, int r, const HubLimits *limits, HubArg arg,
                          const char *what, size_t size) {
        g_autofree char *name = NULL, *message = NULL;
        const char *short_name;

        if (hub_error_explain(r, limits, arg, what, size, &short_name, &message) < 0)
                return r;
        name = g_strconcat(SB_ERROR_PREFIX, short_name, NULL);
        return sd_bus_error_set(error, name, message);
}
