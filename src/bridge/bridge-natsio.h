/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bridge-natsio.h: libnats' socket on the bridge's sd-event loop (libnats'
 * "external event loop" adapter), so that what the loop publishes in one
 * iteration leaves in one write, at once.
 */
#pragma once

#include <nats/nats.h>
#include <systemd/sd-event.h>

typedef struct NatsIo NatsIo;

/* @wake: asks the loop (from any thread) to call natsio_apply() soon;
 * @read_done: called on the loop after libnats has read and parsed input
 * (messages of synchronous subscriptions are then waiting). */
NatsIo *natsio_new(sd_event *event, void (*wake)(void *userdata), void (*read_done)(void *userdata),
                   void *userdata);
NatsIo *natsio_free(NatsIo *io);
natsStatus natsio_set_options(NatsIo *io, natsOptions *o);
void natsio_apply(NatsIo *io);
void natsio_flush(NatsIo *io);
