/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-codec.c: see dbus-codec.h. Every OpType: strings, bytes as 's'
 * (text only) or 'ay', bools, numbers, rows (an a(...) of an OpRows) and
 * the a{sv} dictionary as a GVariant. What is read borrows its strings and
 * bytes from the message, which the caller keeps alive.
 */
#include <errno.h>
#include <string.h>

#include "dbus/dbus-codec.h"
#include "util/sd-glue.h"

/* The next value of @m, any type but 'h', as a floating GVariant: GetInfo's a{sv}. */
static int read_variant(sd_bus_message *m, GVariant **ret) {
        union {
                uint8_t y; int b; int16_t n; uint16_t q; int32_t i; uint32_t u; int64_t x; uint64_t t;
                double d; const char *s;
        } v;
        const char *contents;
        char type;
        int r;

        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        if (strchr("avre", type)) {
                g_autofree char *sig = type == 'a' ? g_strconcat("a", contents, NULL) :
                                       type == 'v' ? g_strdup("v") :
                                       g_strdup_printf(type == 'r' ? "(%s)" : "{%s}", contents);
                GVariantBuilder builder;
                GVariant *child;

                r = sd_bus_message_enter_container(m, type, contents);
                if (r < 0)
                        return r;
                g_variant_builder_init(&builder, G_VARIANT_TYPE(sig));
                while ((r = sd_bus_message_at_end(m, false)) == 0 && (r = read_variant(m, &child)) >= 0)
                        g_variant_builder_add_value(&builder, child);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r < 0) {
                        g_variant_builder_clear(&builder);
                        return r;
                }
                *ret = g_variant_builder_end(&builder);
                return 0;
        }

        r = sd_bus_message_read_basic(m, type, &v);
        if (r < 0)
                return r;
        switch (type) {
        case 'y': *ret = g_variant_new_byte(v.y); break;
        case 'b': *ret = g_variant_new_boolean(v.b); break;
        case 'n': *ret = g_variant_new_int16(v.n); break;
        case 'q': *ret = g_variant_new_uint16(v.q); break;
        case 'i': *ret = g_variant_new_int32(v.i); break;
        case 'u': *ret = g_variant_new_uint32(v.u); break;
        case 'x': *ret = g_variant_new_int64(v.x); break;
        case 't': *ret = g_variant_new_uint64(v.t); break;
        case 'd': *ret = g_variant_new_double(v.d); break;
        case 's': *ret = g_variant_new_string(v.s); break;
        case 'o': *ret = g_variant_new_object_path(v.s); break;
        case 'g': *ret = g_variant_new_signature(v.s); break;
        default: return -EOPNOTSUPP;
        }
        return 0;
}

static int read_value(sd_bus_message *m, OpType type, char dbus, const OpRows *t, void *field, size_t *len);

/* An a(...) into a GArray of @t's rows. */
static int read_rows(sd_bus_message *m, const OpRows *t, GArray **ret) {
        g_autoptr(GArray) rows = g_array_new(FALSE, TRUE, (guint) t->size);
        int r;

        r = sd_bus_message_enter_container(m, 'a', t->dbus);
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'r', t->members)) > 0) {
                char *row;

                g_array_set_size(rows, rows->len + 1);
                row = rows->data + (rows->len - 1) * t->size;
                for (unsigned f = 0; r >= 0 && f < t->n_fields; f++) {
                        const OpField *fd = &t->fields[f];

                        r = read_value(m, fd->type, fd->dbus, NULL, row + fd->offset,
                                       (size_t *) (row + fd->len_offset));
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&rows);
        return 0;
}

/* One value into @field; bytes: the data pointer there, the length at @len. */
static int read_value(sd_bus_message *m, OpType type, char dbus, const OpRows *t, void *field, size_t *len) {
        const char *s;
        int b, r;

        switch (type) {
        case OP_TYPE_BYTES:
                if (dbus == 'y')
                        return sd_bus_message_read_array(m, 'y', (const void **) field, len);
                r = sd_bus_message_read_basic(m, 's', &s);
                if (r > 0) {
                        *(const char **) field = s;
                        *len = strlen(s);
                }
                return r;
        case OP_TYPE_BOOL:
                r = sd_bus_message_read_basic(m, 'b', &b);
                *(bool *) field = b;
                return r;
        case OP_TYPE_ROWS:
                return read_rows(m, t, field);
        case OP_TYPE_DICT:
                r = read_variant(m, field);
                if (r >= 0)
                        g_variant_ref_sink(*(GVariant **) field);
                return r;
        default:                        /* STRING, U32, U64: the member has the wire's width */
                return sd_bus_message_read_basic(m, dbus, field);
        }
}

/**
 * dbus_codec_read() - the next values of @m into the members of @base by @params
 *
 * Strings and bytes are borrowed from @m; rows (a GArray) and a dictionary
 * (a GVariant) are owned by @base's owner.
 *
 * Return: 0, or a negative errno from sd-bus (-ENXIO, -EBADMSG for a wrong type).
 */
int dbus_codec_read(sd_bus_message *m, const OpParam *params, unsigned n, void *base) {
        for (unsigned i = 0; i < n; i++) {
                char *field = (char *) base + params[i].offset;
                int r = read_value(m, params[i].type, params[i].dbus, params[i].rows, field,
                                   (size_t *) (field + offsetof(OpBytes, len)));

                if (r < 0)
                        return r;
        }
        return 0;
}

/* One basic value or bytes (@data, @len) of @field; bytes as 's' that are not @text go as "". */
static int append_value(sd_bus_message *m, OpType type, char dbus, const void *field, const void *data,
                        size_t len, DbusCodecText text_fn) {
        g_autofree char *text = NULL;
        int b;

        switch (type) {
        case OP_TYPE_BYTES:
                if (dbus == 'y')
                        return sd_bus_message_append_array(m, 'y', data ?: "", len);
                /* Text has no NUL, but the bytes need not be terminated. */
                text = text_fn(data, len) ? g_strndup(data, len) : NULL;
                return sd_bus_message_append_basic(m, 's', text ?: "");
        case OP_TYPE_STRING:
                return sd_bus_message_append_basic(m, 's', *(const char *const *) field ?: "");
        case OP_TYPE_BOOL:
                b = *(const bool *) field;
                return sd_bus_message_append_basic(m, 'b', &b);
        default:                        /* U32, U64 */
                return sd_bus_message_append_basic(m, dbus, field);
        }
}

static int append_rows(sd_bus_message *m, const OpRows *t, GArray *rows, DbusCodecText text_fn) {
        int r;

        r = sd_bus_message_open_container(m, 'a', t->dbus);
        for (guint i = 0; r >= 0 && rows && i < rows->len; i++) {
                const char *row = rows->data + i * t->size;

                r = sd_bus_message_open_container(m, 'r', t->members);
                for (unsigned f = 0; r >= 0 && f < t->n_fields; f++) {
                        const OpField *fd = &t->fields[f];

                        const bool bytes = fd->type == OP_TYPE_BYTES;

                        /* A row's bytes are a pointer and a length elsewhere in the row. */
                        r = append_value(m, fd->type, fd->dbus, row + fd->offset,
                                         bytes ? *(const void *const *) (row + fd->offset) : NULL,
                                         bytes ? *(const size_t *) (row + fd->len_offset) : 0, text_fn);
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/**
 * dbus_codec_append_variant() - append @v, of the types hub.info uses (a{sv},
 * a{su}, a{st}, s, b, u, t), as the same D-Bus type
 *
 * Return: 0, -EINVAL for another basic type, or a negative errno from sd-bus.
 */
int dbus_codec_append_variant(sd_bus_message *m, GVariant *v) {
        const char *sig = g_variant_get_type_string(v);
        g_autofree char *contents = NULL;
        GVariantIter it;
        GVariant *child;
        char type;
        int r = 0;

        switch (g_variant_classify(v)) {
        case G_VARIANT_CLASS_STRING:
                return sd_bus_message_append_basic(m, 's', g_variant_get_string(v, NULL));
        case G_VARIANT_CLASS_BOOLEAN:
                return sd_bus_message_append(m, "b", (int) g_variant_get_boolean(v));
        case G_VARIANT_CLASS_UINT32:
                return sd_bus_message_append(m, "u", g_variant_get_uint32(v));
        case G_VARIANT_CLASS_UINT64:
                return sd_bus_message_append(m, "t", g_variant_get_uint64(v));
        case G_VARIANT_CLASS_VARIANT:
                type = 'v';
                break;
        case G_VARIANT_CLASS_DICT_ENTRY:
                type = 'e';
                break;
        case G_VARIANT_CLASS_ARRAY:
                type = 'a';
                break;
        default:
                return -EINVAL;
        }

        if (type == 'v') {
                g_autoptr(GVariant) inner = g_variant_get_variant(v);

                contents = g_strdup(g_variant_get_type_string(inner));
        } else            /* a's element, or e's members inside the braces */
                contents = g_strndup(sig + 1, strlen(sig) - (type == 'e' ? 2 : 1));
        r = sd_bus_message_open_container(m, type, contents);
        g_variant_iter_init(&it, v);
        while (r >= 0 && (child = g_variant_iter_next_value(&it))) {
                r = dbus_codec_append_variant(m, child);
                g_variant_unref(child);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/**
 * dbus_codec_append() - append the members of @base by @params to @m
 * @text_fn: whether bytes may go as an 's' (the caller's definition of text)
 * @ret_not_text: with -EMEDIUMTYPE, the param of bytes for an 's' that are not text
 *
 * Return: 0, -EMEDIUMTYPE, or a negative errno from sd-bus.
 */
int dbus_codec_append(sd_bus_message *m, const OpParam *params, unsigned n, const void *base,
                      DbusCodecText text_fn, const OpParam **ret_not_text) {
        for (unsigned i = 0; i < n; i++) {
                const OpParam *p = &params[i];
                const char *field = (const char *) base + p->offset;
                const bool bytes = p->type == OP_TYPE_BYTES;
                OpBytes b = bytes ? *(const OpBytes *) field : (OpBytes) {};
                int r;

                if (bytes && p->dbus == 's' && !text_fn(b.data, b.len)) {
                        *ret_not_text = p;
                        return -EMEDIUMTYPE;
                }
                if (p->type == OP_TYPE_ROWS)
                        r = append_rows(m, p->rows, *(GArray *const *) field, text_fn);
                else if (p->type == OP_TYPE_DICT)
                        r = dbus_codec_append_variant(m, *(GVariant *const *) field);
                else
                        r = append_value(m, p->type, p->dbus, field, b.data, b.len, text_fn);
                if (r < 0)
                        return r;
        }
        return 0;
}
