/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * store.h: the key-value store. Keys are non-empty text (payload_is_text()) without
 * control characters, up to HubLimits.max_key_length bytes; values are
 * opaque bytes. Every change (set or delete) takes the next hub-wide
 * revision; a key's revision is the revision of its last change. In memory
 * for now; the journal issue makes it durable behind the same calls.
 * Watches are found by prefix. Called by hub.c only.
 */
#pragma once

#include "core/hub.h"
#include "core/listener.h"

typedef struct Store Store;

typedef struct Watch {
        Listener listener;              /* id, client, gap; must be first */
        char *prefix;
        GList store_link;               /* in Store.watches */
} Watch;

int store_key_validate(const char *key, const HubLimits *limits);
int store_prefix_validate(const char *prefix, const HubLimits *limits);

Store *store_new(void);
Store *store_free(Store *s);

unsigned store_size(Store *s);
uint64_t store_revision(Store *s);
int store_get(Store *s, const char *key, StoreEntry *ret_entry);
uint64_t store_put(Store *s, const char *key, const void *value, size_t len, const ClientInfo *writer,
                   uint64_t modified);
uint64_t store_remove(Store *s, const char *key);
void store_restore(Store *s, const char *key, const void *value, size_t len, uint64_t revision);
void store_forget(Store *s, const char *key, uint64_t revision);
void store_foreach(Store *s, void (*func)(const StoreEntry *e, void *userdata), void *userdata);
GArray *store_list(Store *s, const char *prefix);

void store_watch_link(Store *s, Watch *w);
void store_watch_unlink(Store *s, Watch *w);
void store_watch_foreach(Store *s, const char *key, void (*func)(Watch *w, void *userdata),
                         void *userdata);
