/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-commands-store.c: the key-value store's commands: get, set (with
 * --if-revision: compare-and-set), delete and list. A value that is not
 * text travels as bytes (SetBinary; GetBinary is the D-Bus backend's
 * business) and is printed raw, or as value_base64 in JSON.
 */

#include <inttypes.h>
#include <string.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/cli.h"

/**
 * run_get() - `get KEY [--json]`: print a value
 */
int run_get(char **args, int n_args) {
        g_autoptr(GString) out = NULL;
        g_auto(CliResult) res = {};
        int r;

        r = cli_call("Get", &(OpArgs) { .key = args[0] }, SUBJECT_KEY, args[0], &res);
        if (r != 0)
                return r;
        if (!arg.json)
                return print_bytes(&res.out.value);

        out = g_string_new("{");
        json_append_member(out, "key", args[0]);
        json_append_bytes(out, "value", res.out.value.data, res.out.value.len);
        json_append_u64(out, "revision", res.out.revision);
        g_string_append_c(out, '}');
        print_line(out->str);
        return SB_EXIT_OK;
}

/**
 * run_set() - `set KEY VALUE [--if-revision N]`
 */
int run_set(char **args, int n_args) {
        g_auto(CliResult) res = {};
        OpArgs in = { .key = args[0], .value = { args[1], strlen(args[1]) } };
        int r;

        if (arg.if_revision) {
                r = parse_u64("--if-revision", arg.if_revision, 0, &in.expected_revision);
                if (r != 0)
                        return r;
                if (!g_utf8_validate(args[1], -1, NULL))
                        return usage_error(_("--if-revision needs a value that is valid UTF-8 text"));
        }

        return cli_call(arg.if_revision ? "SetIf" : "Set", &in, SUBJECT_KEY, args[0], &res);
}

/**
 * run_delete() - `delete KEY`: status 3 if there was no such key
 */
int run_delete(char **args, int n_args) {
        g_auto(CliResult) res = {};
        int r;

        r = cli_call("Delete", &(OpArgs) { .key = args[0] }, SUBJECT_KEY, args[0], &res);
        if (r != 0)
                return r;
        if (!res.out.existed) {
                fprintf(stderr, "switchboard: ");
                fprintf(stderr, _("no such key '%s'"), args[0]);
                fputc('\n', stderr);
                return SB_EXIT_NOT_FOUND;
        }
        return SB_EXIT_OK;
}

/**
 * run_list() - `list [PREFIX] [--json]`: keys and values; a value that is not text is listed as ""
 */
int run_list(char **args, int n_args) {
        g_auto(CliResult) res = {};
        const char *prefix = n_args > 0 ? args[0] : "";
        int r;

        r = cli_call("List", &(OpArgs) { .prefix = prefix }, SUBJECT_KEY, prefix, &res);
        if (r != 0)
                return r;

        for (guint i = 0; i < res.out.entries->len; i++) {
                const StoreEntry *e = &g_array_index(res.out.entries, StoreEntry, i);
                /* As D-Bus List reports it: use get to read such a value. */
                g_autofree char *value = payload_is_text(e->value, e->value_len) ?
                                         g_strndup(e->value, e->value_len) : g_strdup("");

                if (arg.json) {
                        g_autoptr(GString) out = g_string_new("{");

                        json_append_member(out, "key", e->key);
                        json_append_member(out, "value", value);
                        json_append_u64(out, "revision", e->revision);
                        g_string_append_c(out, '}');
                        fputs(out->str, stdout);
                } else
                        printf("%s\t%s", e->key, value);
                fputc('\n', stdout);
        }
        fflush(stdout);
        return SB_EXIT_OK;
}
