/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli-template.c: `--format` of subscribe and watch, for status bars and
 * scripts that want one line of their own per message or change.
 *
 * Grammar:
 *
 *   FORMAT   := "waybar" | "waybar:" TEMPLATE | TEMPLATE
 *   TEMPLATE := { TEXT | "{" FIELD "}" | "{{" | "}}" }
 *   FIELD    := topic | key | payload | value | seq | revision | retained | deleted
 *             | transport | uid | pid | client | sender
 *
 * topic and key are the same field (the topic of a message, the key of a
 * change), as are payload and value, and seq and revision. A payload that
 * is not text is "base64:DATA", as subscribe prints it. Sender fields are
 * empty when the transport does not say (D-Bus). "waybar" prints waybar's
 * JSON, {"text": ..., "tooltip": ...}, with the payload (or the TEMPLATE) as
 * the text: one object per line, for a custom module with return-type json.
 *
 * Examples: '{topic}: {payload}', 'waybar:{payload} °C', '{key}={value} (by pid {pid})'.
 */

#include <inttypes.h>
#include <string.h>

#include <glib.h>
#include <glib/gi18n.h>

#include "clients/cli.h"
#include "proto/json-write.h"

typedef enum Field {
        FIELD_TEXT,                     /* a literal */
        FIELD_NAME,
        FIELD_PAYLOAD,
        FIELD_NUMBER,
        FIELD_RETAINED,
        FIELD_DELETED,
        FIELD_TRANSPORT,
        FIELD_UID,
        FIELD_PID,
        FIELD_CLIENT,
        FIELD_SENDER,
} Field;

typedef struct Part {
        Field field;
        char *text;                     /* FIELD_TEXT */
} Part;

struct CliTemplate {
        GArray *parts;                  /* Part */
        bool waybar;                    /* wrap the text in waybar's JSON */
        bool keys;                      /* events are key changes (watch) */
};

static const struct {
        const char *name;
        Field field;
} fields[] = {
        { "topic", FIELD_NAME }, { "key", FIELD_NAME },
        { "payload", FIELD_PAYLOAD }, { "value", FIELD_PAYLOAD },
        { "seq", FIELD_NUMBER }, { "revision", FIELD_NUMBER },
        { "retained", FIELD_RETAINED }, { "deleted", FIELD_DELETED },
        { "transport", FIELD_TRANSPORT }, { "uid", FIELD_UID }, { "pid", FIELD_PID },
        { "client", FIELD_CLIENT }, { "sender", FIELD_SENDER },
};

static void part_clear(void *p) {
        g_free(((Part *) p)->text);
}

/**
 * cli_template_free() - free @t (NULL is fine)
 */
void cli_template_free(CliTemplate *t) {
        if (!t)
                return;
        g_array_unref(t->parts);
        g_free(t);
}

static void add_text(CliTemplate *t, GString *text) {
        Part p = { FIELD_TEXT, NULL };

        if (text->len == 0)
                return;
        p.text = g_strdup(text->str);
        g_array_append_val(t->parts, p);
        g_string_truncate(text, 0);
}

/**
 * cli_template_parse() - compile the --format @spec
 * @keys: the events are key changes (watch), not messages
 *
 * Return: 0 and the template in @ret, or 2 (message printed).
 */
int cli_template_parse(const char *spec, bool keys, CliTemplate **ret) {
        g_autoptr(CliTemplate) t = g_new0(CliTemplate, 1);
        g_autoptr(GString) text = g_string_new(NULL);
        const char *p = spec;

        t->parts = g_array_new(FALSE, FALSE, sizeof(Part));
        g_array_set_clear_func(t->parts, part_clear);
        t->keys = keys;
        if (g_str_equal(spec, "waybar")) {
                t->waybar = true;
                g_array_append_val(t->parts, ((Part) { FIELD_PAYLOAD, NULL }));
                *ret = g_steal_pointer(&t);
                return 0;
        }
        if (g_str_has_prefix(spec, "waybar:")) {
                t->waybar = true;
                p += strlen("waybar:");
        }

        while (*p) {
                const char *end;
                size_t i;

                if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
                        g_string_append_c(text, p[0]);
                        p += 2;
                        continue;
                }
                if (*p == '}')
                        return usage_error(_("invalid --format '%s': a '}' without '{' (write '}}' for one)"), spec);
                if (*p != '{') {
                        g_string_append_c(text, *p++);
                        continue;
                }
                end = strchr(p, '}');
                if (!end)
                        return usage_error(_("invalid --format '%s': a '{' without '}' (write '{{' for one)"), spec);
                for (i = 0; i < G_N_ELEMENTS(fields); i++)
                        if (strlen(fields[i].name) == (size_t) (end - p - 1) &&
                            strncmp(fields[i].name, p + 1, (size_t) (end - p - 1)) == 0)
                                break;
                if (i == G_N_ELEMENTS(fields)) {
                        g_autofree char *name = g_strndup(p + 1, (size_t) (end - p - 1));

                        return usage_error(_("unknown field '{%s}' in --format: use {topic}, {key}, {payload}, "
                                             "{value}, {seq}, {revision}, {retained}, {deleted}, {transport}, "
                                             "{uid}, {pid}, {client} or {sender}"), name);
                }
                add_text(t, text);
                g_array_append_val(t->parts, ((Part) { fields[i].field, NULL }));
                p = end + 1;
        }
        add_text(t, text);
        *ret = g_steal_pointer(&t);
        return 0;
}

static void append_field(GString *out, Field f, const Event *e) {
        const Sender *s = e->sender;

        switch (f) {
        case FIELD_TEXT:
                g_assert_not_reached();
        case FIELD_NAME:
                g_string_append(out, e->name);
                break;
        case FIELD_PAYLOAD:
                if (e->binary) {
                        g_autofree char *b64 = g_base64_encode(e->data, e->size);

                        g_string_append_printf(out, "base64:%s", b64);
                } else
                        g_string_append(out, e->data);
                break;
        case FIELD_NUMBER:
                g_string_append_printf(out, "%" PRIu64, e->number);
                break;
        case FIELD_RETAINED:
                g_string_append(out, e->retained ? "true" : "false");
                break;
        case FIELD_DELETED:
                g_string_append(out, e->deleted ? "true" : "false");
                break;
        case FIELD_TRANSPORT:
                if (s)
                        g_string_append(out, s->transport);
                break;
        case FIELD_UID:
                if (s && s->has_uid)
                        g_string_append_printf(out, "%" PRIu64, s->uid);
                break;
        case FIELD_PID:
                if (s && s->has_pid)
                        g_string_append_printf(out, "%" PRIu64, s->pid);
                break;
        case FIELD_CLIENT:
                if (s && s->has_client)
                        g_string_append_printf(out, "%" PRIu64, s->client);
                break;
        case FIELD_SENDER:
                if (s && s->name)
                        g_string_append(out, s->name);
                break;
        }
}

/**
 * cli_template_expand() - append the line of @e by @t to @out
 */
void cli_template_expand(const CliTemplate *t, const Event *e, GString *out) {
        g_autoptr(GString) text = g_string_new(NULL), tooltip = NULL;

        for (guint i = 0; i < t->parts->len; i++) {
                const Part *p = &g_array_index(t->parts, Part, i);

                if (p->field == FIELD_TEXT)
                        g_string_append(text, p->text);
                else
                        append_field(text, p->field, e);
        }
        if (!t->waybar) {
                g_string_append_len(out, text->str, (gssize) text->len);
                return;
        }

        /* waybar: one JSON object per line; the tooltip says what and which. */
        tooltip = g_string_new(e->name);
        if (t->keys && e->deleted)
                g_string_append(tooltip, " (deleted)");
        else
                g_string_append_printf(tooltip, t->keys ? " (revision %" PRIu64 ")" : " (seq %" PRIu64 ")",
                                       e->number);
        g_string_append_c(out, '{');
        json_append_member(out, "text", text->str);
        json_append_member(out, "tooltip", tooltip->str);
        g_string_append_c(out, '}');
}
