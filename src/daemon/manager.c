/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * manager.c: see manager.h. Start-up order matters: the loop and the hub
 * first, then every transport, and the bus name last. With Type=dbus, and
 * for callers waiting on D-Bus activation, owning the name is how the
 * world learns that the hub is ready.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon/last-error.h"
#include "daemon/manager.h"
#include "util/file.h"
#include "util/log.h"
#include "util/sd-glue.h"
#include "build-config.h"

int manager_new(const Config *config, ConfigLoader reload, Manager **ret) {
        g_autoptr(Manager) m = NULL;
        int r;

        m = g_new0(Manager, 1);
        m->config = *config;
        m->reload = reload;

        r = sd_event_new(&m->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");
        /*
         * Under a service manager's watchdog (WatchdogSec=, so $WATCHDOG_USEC), the loop itself
         * sends WATCHDOG=1 at half the interval: a hub stuck in a handler stops pinging and is
         * restarted (Restart=on-failure). Without it, this does nothing.
         */
        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to set up the watchdog, ignoring: %m");

        m->hub = hub_new(&m->config.limits, g_get_real_time());
        *ret = g_steal_pointer(&m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /*
         * Stopping is not every client leaving: what they had reserved was never returned
         * or acked, and must come back from the journal as after a crash, without an attempt
         * counted. So nothing from here on is journaled.
         */
        journal_stop(m->journal);
        /* Transports first: their clients are linked into the hub. */
        g_clear_pointer(&m->jsonrpc, jsonrpc_server_free);
        g_clear_pointer(&m->shm, shm_hub_free);
        g_clear_pointer(&m->dbus, dbus_service_free);
        if (m->bus) {
                sd_bus_flush(m->bus);
                m->bus = sd_bus_close_unref(m->bus);
        }
        g_clear_pointer(&m->journal, journal_free);
        m->hub_timer = sd_event_source_disable_unref(m->hub_timer);
        m->hub_timer_post = sd_event_source_disable_unref(m->hub_timer_post);
        g_clear_pointer(&m->hub, hub_free);
        g_free(m->state_dir);
        m->event = sd_event_unref(m->event);
        g_free(m->runtime_dir);
        g_free(m);
        return NULL;
}

/*
 * @path must be a directory of ours that nobody else can change: not a
 * symlink (opened with O_NOFOLLOW), owned by our uid, and closed to group
 * and others (made so when it is ours). In a shared place like /tmp, a
 * directory another user made for us, or a link to one of theirs, would
 * let them swap our socket for theirs.
 */
static int dir_check_private(const char *path) {
        g_auto(Fd) fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;

        /* O_DIRECTORY | O_NOFOLLOW on a link fails with ENOTDIR, or ELOOP. */
        if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && lstat(path, &st) >= 0 && S_ISLNK(st.st_mode))
                return log_error_errno(-EPERM, "'%s' is a symbolic link, refusing to use it: remove it, or set "
                                       "XDG_RUNTIME_DIR to a directory of your own.", path);
        if (fd < 0 || fstat(fd, &st) < 0)
                return log_error_errno(-errno, "Failed to open the runtime directory '%s': %m", path);
        if (st.st_uid != getuid())
                return log_error_errno(-EPERM, "'%s' belongs to uid %u, not to uid %u, refusing to use it: "
                                       "remove it, or set XDG_RUNTIME_DIR to a directory of your own.", path,
                                       (unsigned) st.st_uid, (unsigned) getuid());
        if ((st.st_mode & 0077) != 0 && fchmod(fd, 0700) < 0)
                return log_error_errno(-errno, "Failed to make '%s' private: %m", path);
        return 0;
}

/**
 * runtime_dir_prepare() - $XDG_RUNTIME_DIR/switchboard, created 0700 and checked to be ours
 *
 * Without XDG_RUNTIME_DIR (no login session, e.g. su or a container) fall
 * back to /run/user/UID when it is ours, else to a private directory under
 * /tmp.
 *
 * Return: 0 and the path in @ret_dir, or a negative errno (logged).
 */
int runtime_dir_prepare(char **ret_dir) {
        const char *base = g_getenv("XDG_RUNTIME_DIR");
        g_autofree char *fallback = NULL, *dir = NULL;
        struct stat st;

        if (!base || !g_path_is_absolute(base)) {
                g_autofree char *run_user = g_strdup_printf("/run/user/%u", (unsigned) getuid());
                int r;

                if (stat(run_user, &st) >= 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
                        fallback = g_steal_pointer(&run_user);
                else
                        fallback = g_strdup_printf("%s/switchboard-%u", g_get_tmp_dir(), (unsigned) getuid());
                log_warning("XDG_RUNTIME_DIR is not set; using '%s' for the runtime directory.", fallback);
                if (mkdir(fallback, 0700) < 0 && errno != EEXIST)
                        return log_error_errno(-errno, "Failed to create '%s': %m", fallback);
                r = dir_check_private(fallback);
                if (r < 0)
                        return r;
                base = fallback;
        }

        dir = g_build_filename(base, "switchboard", NULL);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "Failed to create the runtime directory '%s': %m", dir);
        if (lstat(dir, &st) < 0)
                return log_error_errno(-errno, "Failed to check '%s': %m", dir);
        if (!S_ISDIR(st.st_mode) || st.st_uid != getuid())
                return log_error_errno(-EPERM, "'%s' is not a directory owned by uid %u, refusing to use it.",
                                       dir, (unsigned) getuid());
        if ((st.st_mode & 0077) != 0 && chmod(dir, 0700) < 0)
                return log_error_errno(-errno, "Failed to make '%s' private: %m", dir);
        *ret_dir = g_steal_pointer(&dir);
        return 0;
}

static int pid_file_write(Manager *m) {
        g_autofree char *path = g_build_filename(m->runtime_dir, "switchboardd.pid", NULL);
        g_autofree char *text = g_strdup_printf("%u\n", (unsigned) getpid());
        int r;

        /* Write and rename, so that a reader never sees a half-written file. */
        r = file_write_atomic(path, text, 0600);
        if (r < 0)
                log_warning_errno(r, "Failed to write '%s', ignoring: %m", path);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s, shutting down.", strsignal((int) si->ssi_signo));
        return sd_event_exit(m->event, 0);
}

/*
 * SIGHUP: read the settings again. What config_keys[] marks live applies at
 * once; a changed key that needs a restart is logged and left as it is; a
 * configuration that does not load leaves everything as it is.
 */
static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        Config next;
        unsigned changed = 0, ignored = 0;

        log_info("Received SIGHUP, reloading the configuration.");
        if (m->reload(&next) < 0) {
                log_warning("The configuration did not load (see above): keeping the settings in force.");
                return 0;
        }
        for (const ConfigKey *k = config_keys; k->name; k++) {
                g_autofree char *was = NULL, *now = NULL;

                if (config_key_equal(&m->config, &next, k))
                        continue;
                was = config_key_format(&m->config, k);
                now = config_key_format(&next, k);
                if (!k->live) {
                        log_warning("[%s] %s=%s needs a restart to apply; keeping %s until then.", k->group,
                                    k->name, now, was);
                        ignored++;
                        continue;
                }
                log_info("[%s] %s=%s (was %s).", k->group, k->name, now, was);
                /* Live keys are numbers, booleans and enums: nothing to free or to keep alive. */
                memcpy((char *) &m->config + k->offset, (const char *) &next + k->offset, k->size);
                changed++;
        }
        config_deinit(&next);

        hub_set_limits(m->hub, &m->config.limits);
        if (m->jsonrpc)
                jsonrpc_server_set_config(m->jsonrpc, &m->config.jsonrpc);
        if (m->shm)
                shm_hub_set_config(m->shm, &m->config.shm);
        if (m->dbus)
                dbus_service_set_max_queued(m->dbus, m->config.dbus.max_queued);
        log_set_max_level(m->config.log_level);
        log_info("Reloaded the configuration: %u setting(s) changed, %u waiting for a restart.", changed, ignored);
        return 0;
}

static int bus_setup(Manager *m) {
        int r;

        /* sd_bus_default() would pick the system bus outside a user slice. */
        r = sd_bus_open_user(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the session bus "
                                       "(is DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus set?): %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        /* An activated hub is not its bus's child: leave with the bus. */
        r = sd_bus_set_exit_on_disconnect(m->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set exit-on-disconnect: %m");
        return 0;
}

/* 1,000 clients need more than the usual soft limit of 1,024 fds; we never use select(). */
static void fd_limit_raise(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        log_debug_errno(-errno, "Failed to raise the fd limit, ignoring: %m");
        }
}

static int on_hub_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        m->hub_timer_due = UINT64_MAX;          /* a one-shot: it is off now */
        hub_run_timers(m->hub);
        return 0;
}

/*
 * After anything ran: its broadcast signals go out (off its critical path,
 * in this one post source rather than a second that would cost every
 * iteration one more dispatch), and the hub's next deadline may have moved. Each change
 * costs the loop a timerfd_settime(), so the timer only ever moves earlier:
 * a deadline that went away (a call answered before its timeout) leaves it
 * armed, to fire once for nothing and be set to the real next deadline then.
 */
static int on_hub_timer_post(sd_event_source *s, void *userdata) {
        Manager *m = userdata;
        uint64_t due;

        /* The broadcast signals of what ran, now that its replies and deliveries are out. */
        if (m->dbus)
                dbus_service_flush(m->dbus);
        due = hub_next_deadline(m->hub);

        if (due >= m->hub_timer_due)
                return 0;
        m->hub_timer_due = due;
        if (due == UINT64_MAX)
                return sd_event_source_set_enabled(m->hub_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_time(m->hub_timer, due);
        return sd_event_source_set_enabled(m->hub_timer, SD_EVENT_ONESHOT);
}

static int hub_timer_setup(Manager *m) {
        int r;

        /* The hub's clock is wall-clock time (hub.c), so its deadlines are CLOCK_REALTIME. */
        r = sd_event_add_time(m->event, &m->hub_timer, CLOCK_REALTIME, UINT64_MAX, 1000, on_hub_timer, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->hub_timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_post(m->event, &m->hub_timer_post, on_hub_timer_post, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the hub's timers: %m");
        m->hub_timer_due = UINT64_MAX;
        return on_hub_timer_post(NULL, m);
}

int manager_start(Manager *m) {
        sigset_t mask;
        int r;

        fd_limit_raise();

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (m->reload)
                sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(-errno, "Failed to block signals: %m");
        r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m);
        if (r >= 0 && m->reload)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_reload, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for SIGTERM, SIGINT and SIGHUP: %m");

        r = runtime_dir_prepare(&m->runtime_dir);
        if (r < 0)
                return r;

        /* State first: transports serve only what the journal brought back. */
        m->state_dir = g_build_filename(g_get_user_state_dir(), "switchboard", NULL);
        r = journal_open(m->event, m->hub, m->state_dir, &m->config.journal, &m->journal);
        if (r < 0)
                return r;
        r = hub_timer_setup(m);
        if (r < 0)
                return r;

        r = jsonrpc_server_new(m->event, m->hub, &m->config.jsonrpc, m->runtime_dir, &m->jsonrpc);
        if (r < 0)
                return r;
        r = shm_hub_new(m->event, m->hub, &m->config.shm, &m->shm);
        if (r < 0)
                return r;
        jsonrpc_server_set_extension(m->jsonrpc, shm_hub_extension(m->shm));

        r = bus_setup(m);
        if (r < 0)
                return r;
        r = dbus_service_new(m->bus, m->hub, &m->config.dbus, &m->dbus);
        if (r < 0)
                return r;

        /* Last: the name tells activating callers (and systemd) that we are ready. */
        r = sd_bus_request_name(m->bus, SB_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "Another hub owns %s on this bus already.", SB_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to request the bus name %s: %m", SB_BUS_NAME);

        (void) pid_file_write(m);
        last_error_clear(m->runtime_dir);
        (void) sd_notify(false, "READY=1\nSTATUS=Serving.");
        log_info("switchboardd %s serving as %s.", PACKAGE_VERSION, SB_BUS_NAME);
        return 0;
}

int manager_run(Manager *m) {
        int r;

        r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        (void) sd_notify(false, "STOPPING=1");
        return r;
}
