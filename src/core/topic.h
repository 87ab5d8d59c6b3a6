/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topic.h: topic and pattern grammar, and the subscription tree.
 *
 * The topic grammar:
 *   topic   = token *( "." token )          token = 1*( ALPHA / DIGIT / "_" / "-" )
 *   pattern = ptoken *( "." ptoken ) [ ".>" ] / ">"
 *   ptoken  = token / "*"
 * Examples: "sensors.kitchen.temp"; "sensors.*.temp" matches exactly one token
 * in the middle; "sensors.>" matches "sensors.a" and "sensors.a.b" but not
 * "sensors"; ">" matches every topic.
 *
 * The tree holds each Subscription at the node its pattern ends in: tokens
 * are children by name, "*" a child of its own, and ">" a list on the node
 * before it. Matching a topic walks at most two branches per token. Empty
 * nodes are pruned when their last subscription leaves.
 */
#pragma once

#include <stdbool.h>

#include "core/hub.h"
#include "core/listener.h"

typedef struct TopicNode TopicNode;

typedef struct Subscription {
        Listener listener;              /* id, client, gap; must be first */
        char *pattern;
        TopicNode *node;                /* where it is linked */
        bool tail_wildcard;             /* linked in node->tail rather than node->subs */
        GList tree_link;                /* in TopicNode.subs or .tail */
} Subscription;

int topic_validate(const char *topic, const HubLimits *limits);
int topic_pattern_validate(const char *pattern, const HubLimits *limits);
bool topic_pattern_match(const char *pattern, const char *topic);

typedef void (*TopicMatchFunc)(Subscription *s, void *userdata);

TopicNode *topic_tree_new(void);
TopicNode *topic_tree_free(TopicNode *root);
void topic_tree_add(TopicNode *root, Subscription *s);
void topic_tree_remove(Subscription *s);
void topic_tree_match(TopicNode *root, const char *topic, TopicMatchFunc func, void *userdata);
