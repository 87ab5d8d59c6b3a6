/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sd-glue.h: the one place where sd-* types and plain fds get their
 * g_auto cleanup functions. Only transports and the daemon include this;
 * core/ never does.
 */
#pragma once

#include <errno.h>
#include <unistd.h>

#include <glib.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_event, sd_event_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_event_source, sd_event_source_disable_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sd_bus_error, sd_bus_error_free)

typedef int Fd;
static inline void fd_close(Fd fd) {
        int saved_errno = errno;
        if (fd >= 0)
                (void) close(fd);
        errno = saved_errno;
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(Fd, fd_close, -1)
