/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * retained.h: the retained values of topics, at most one per topic: the
 * last message published with retain, with its sequence number and sender.
 * A retained empty payload clears the topic's value, as in MQTT. Called by
 * hub.c only, which checks topics, limits and the journal first: nothing
 * here fails except where a caller's callback does.
 */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "core/client.h"
#include "core/hub.h"
#include "core/journal.h"

typedef struct Retained {
        char *topic;
        GBytes *payload;
        uint64_t seq;
        ClientInfo sender;      /* strings owned: transport is static, name is copied */
} Retained;

typedef struct RetainedTable RetainedTable;

RetainedTable *retained_table_new(void);
RetainedTable *retained_table_free(RetainedTable *t);
unsigned retained_table_size(RetainedTable *t);
Retained *retained_lookup(RetainedTable *t, const char *topic);

void retained_set(RetainedTable *t, const ClientInfo *sender, const char *topic, const void *payload,
                  size_t len, uint64_t seq);
int retained_clear(RetainedTable *t, const char *pattern, uint64_t seq,
                   int (*journal)(void *userdata, const JournalRecord *r), void *userdata,
                   unsigned *ret_count);
void retained_deliver(RetainedTable *t, const char *pattern,
                      void (*deliver)(void *userdata, const Envelope *e), void *userdata);

int retained_replay(RetainedTable *t, const JournalRecord *r, const HubLimits *limits);
void retained_snapshot(RetainedTable *t, void (*emit)(void *userdata, const JournalRecord *r),
                       void *userdata);
