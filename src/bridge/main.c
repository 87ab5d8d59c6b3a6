/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c: switchboard-bridge: settings (bridge-config.c), one sd-event loop,
 * the bridge (bridge.c), SIGTERM/SIGINT to stop. SIGTERM and SIGINT are
 * blocked before libnats starts its threads, so that only the loop's
 * signalfd sees them. Ready for systemd (Type=notify) once both sides are
 * set up.
 */
#include <signal.h>
#include <stdlib.h>

#include <nats/nats.h>
#include <systemd/sd-daemon.h>

#include "bridge/bridge.h"
#include "util/log.h"
#include "util/sd-glue.h"

int main(int argc, char **argv) {
        g_autoptr(BridgeConfig) config = NULL;
        g_autoptr(sd_event) event = NULL;
        g_autoptr(Bridge) bridge = NULL;
        sigset_t mask;
        bool done = false;
        int r, status = EXIT_FAILURE;

        r = bridge_config_parse(argc, argv, &config, &done);
        if (r < 0)
                return 2;
        if (done)
                return EXIT_SUCCESS;
        if (config->verbose)
                log_set_max_level(G_LOG_LEVEL_DEBUG);

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGPIPE);
        (void) sigprocmask(SIG_BLOCK, &mask, NULL);

        if (nats_Open(-1) != NATS_OK) {
                log_error("Failed to start libnats.");
                return EXIT_FAILURE;
        }
        r = sd_event_default(&event);
        if (r < 0) {
                log_error_errno(r, "Failed to make an event loop: %m");
                goto out;
        }
        (void) sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);

        r = bridge_new(config, event, &bridge);
        if (r < 0)
                goto out;
        (void) sd_notify(0, "READY=1");
        r = sd_event_loop(event);
        status = r < 0 ? EXIT_FAILURE : r;
out:
        g_clear_pointer(&bridge, bridge_free);         /* also ends libnats */
        g_clear_pointer(&event, sd_event_unref);
        return status;
}
