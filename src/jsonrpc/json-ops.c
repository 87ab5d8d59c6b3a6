/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * json-ops.c: OpArgs/OpResult members written as JSON by the op table's
 * params, and hub.info's GVariant dictionary as an object. The hub writes
 * its responses and notifications with it, the CLI its requests' params;
 * the client library, which has no op table, does not link it.
 */
#include <string.h>

#include "jsonrpc/json-ops.h"
#include "util/text.h"

/**
 * json_write_variant() - append @v, of hub.info's types (a{sv}, a{s*}, s, b,
 * u, t), as JSON: dictionaries become objects
 */
void json_write_variant(GString *s, GVariant *v) {
        GVariantIter it;
        GVariant *child;
        const char *key;
        bool first = true;

        switch (g_variant_classify(v)) {
        case G_VARIANT_CLASS_STRING:
                json_write_cstr(s, g_variant_get_string(v, NULL));
                return;
        case G_VARIANT_CLASS_BOOLEAN:
                json_write_bool(s, g_variant_get_boolean(v));
                return;
        case G_VARIANT_CLASS_UINT32:
                json_write_u64(s, g_variant_get_uint32(v));
                return;
        case G_VARIANT_CLASS_UINT64:
                json_write_u64(s, g_variant_get_uint64(v));
                return;
        case G_VARIANT_CLASS_VARIANT: {
                g_autoptr(GVariant) inner = g_variant_get_variant(v);
                json_write_variant(s, inner);
                return;
        }
        case G_VARIANT_CLASS_ARRAY:
                g_assert(g_variant_type_is_dict_entry(g_variant_type_element(g_variant_get_type(v))));
                g_string_append_c(s, '{');
                g_variant_iter_init(&it, v);
                while (g_variant_iter_next(&it, "{&s@*}", &key, &child)) {
                        if (!first)
                                g_string_append_c(s, ',');
                        first = false;
                        json_write_cstr(s, key);
                        g_string_append_c(s, ':');
                        json_write_variant(s, child);
                        g_variant_unref(child);
                }
                g_string_append_c(s, '}');
                return;
        default:
                g_assert_not_reached();
        }
}

/* One member by its type; bytes are @data and @len, as "name" or "name_base64". */
static void write_value(GString *s, const char *name, OpType type, const void *field, const void *data, size_t len) {
        int32_t i;

        if (type == OP_TYPE_BYTES) {
                json_write_bytes_member(s, name, data, len, payload_is_text(data, len));
                return;
        }
        json_write_member(s, name);
        switch (type) {
        case OP_TYPE_STRING:
                json_write_cstr(s, *(const char *const *) field);
                return;
        case OP_TYPE_BOOL:
                json_write_bool(s, *(const bool *) field);
                return;
        case OP_TYPE_U32:
                json_write_u64(s, *(const uint32_t *) field);
                return;
        case OP_TYPE_U64:
                json_write_u64(s, *(const uint64_t *) field);
                return;
        case OP_TYPE_I32:
                i = *(const int32_t *) field;
                if (i < 0)
                        g_string_append_c(s, '-');
                json_write_u64(s, i < 0 ? (uint64_t) -(int64_t) i : (uint64_t) i);
                return;
        case OP_TYPE_DICT:
                json_write_variant(s, *(GVariant *const *) field);
                return;
        default:
                g_assert_not_reached();
        }
}

static void write_rows(GString *s, const OpRows *t, GArray *rows) {
        g_string_append_c(s, '[');
        for (guint i = 0; rows && i < rows->len; i++) {
                const char *row = rows->data + i * t->size;

                g_string_append(s, i ? ",{" : "{");
                for (unsigned f = 0; f < t->n_fields; f++) {
                        const OpField *fd = &t->fields[f];
                        const bool bytes = fd->type == OP_TYPE_BYTES;

                        if (f > 0)
                                g_string_append_c(s, ',');
                        /* A row's bytes are a pointer and a length elsewhere in the row. */
                        write_value(s, fd->name, fd->type, row + fd->offset,
                                    bytes ? *(const void *const *) (row + fd->offset) : NULL,
                                    bytes ? *(const size_t *) (row + fd->len_offset) : 0);
                }
                g_string_append_c(s, '}');
        }
        g_string_append_c(s, ']');
}

/**
 * json_write_members() - append the members of @base named by @params as
 * object members: bytes as "name" or "name_base64" as payload_is_text() decides, rows as an
 * array of objects, a dictionary as an object
 * @first: whether they are the object's first; else each is preceded by ','
 *
 * Return: @first when @n is 0, else false (for the next caller's @first).
 */
bool json_write_members(GString *s, const OpParam *params, unsigned n, const void *base, bool first) {
        for (unsigned i = 0; i < n; i++, first = false) {
                const OpParam *p = &params[i];
                const char *field = (const char *) base + p->offset;
                OpBytes b = p->type == OP_TYPE_BYTES ? *(const OpBytes *) field : (OpBytes) {};

                if (!first)
                        g_string_append_c(s, ',');
                if (p->type == OP_TYPE_ROWS) {
                        json_write_member(s, p->name);
                        write_rows(s, p->rows, *(GArray *const *) field);
                } else
                        write_value(s, p->name, p->type, field, b.data, b.len);
        }
        return first;
}
