/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonrpc-conn.c: one framed JSON-RPC connection (see jsonrpc-conn.h).
 *
 * Input: bytes go into a FrameReader; each whole frame is dispatched at
 * once. A TCP connection (tcp.c) is the same connection behind one gate:
 * until its first frame, hub.auth with the token, is accepted it is no
 * client of the hub, its frames may be max-auth-bytes long, and a timer
 * closes it after auth-timeout; anything else first closes it. Output: responses and notifications are appended to one buffer and
 * written when the current batch of input is done, or by a one-shot defer
 * source when output came from another client's publish, so that many
 * messages share one write(). The buffer is bounded: over max_output the
 * connection stops dispatching requests (those already read wait in the
 * reader) and reading until it is half drained, and notifications that do
 * not fit are refused (the core records a gap and sends it once the buffer
 * is half drained) or, with slow-consumer=disconnect, close the connection.
 * A connection is never freed inside its own callbacks: closing goes
 * through a defer source, once what is queued is written.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jsonrpc/jsonrpc-conn.h"
#include "core/errors.h"
#include "proto/json.h"
#include "util/log.h"
#include "util/sd-glue.h"

#define READ_CHUNK (64 * 1024)

static size_t conn_pending(const JsonrpcConn *c) {
        return c->out->len - c->out_start;
}

/*
 * Ask for what can be done: input unless paused or closing, output while
 * something is queued that may go (not held for the disk). With neither,
 * a closing connection's source goes off: a peer that hung up is reported
 * (HUP) whatever we ask for, and a source that is always ready would spin
 * and starve the journal's sync, which is what it waits for.
 */
static void conn_update_events(JsonrpcConn *c) {
        uint32_t events = 0;

        if (!c->paused && !c->closing)
                events |= EPOLLIN;
        if (conn_pending(c) > 0 && !c->held)
                events |= EPOLLOUT;
        if (events == 0 && c->closing) {
                (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
                c->io_off = true;
                return;
        }
        /* Only what changes: each sd-event call costs, and this runs for every batch of output. */
        if (events != c->io_events) {
                (void) sd_event_source_set_io_events(c->io, events);
                c->io_events = events;
        }
        if (c->io_off) {
                (void) sd_event_source_set_enabled(c->io, SD_EVENT_ON);
                c->io_off = false;
        }
}

/*
 * Stop reading and close once what is queued is written (conn_flush() calls
 * us again when it is). A peer that hung up stays readable (and HUP) for
 * good: its io source must go off, or it stays pending and starves the
 * idle-priority close in a busy loop.
 */
static void conn_close_soon(JsonrpcConn *c) {
        c->closing = true;
        if (conn_pending(c) > 0) {
                conn_update_events(c);
                return;
        }
        (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
        c->io_off = true;
        (void) sd_event_source_set_enabled(c->close_defer, SD_EVENT_ONESHOT);
}

static void conn_handle_input(JsonrpcConn *c);

static void conn_fd_frames_clear(JsonrpcConn *c) {
        for (guint i = 0; c->fd_frames && i < c->fd_frames->len; i++)
                jsonrpc_fds_close(&g_array_index(c->fd_frames, JsonrpcFdFrame, i).fds);
        if (c->fd_frames)
                g_array_set_size(c->fd_frames, 0);
}

/*
 * One send() of what is queued. A frame with fds (a shm.* response) goes
 * with sendmsg() and SCM_RIGHTS from its first byte, so the fds arrive
 * with that frame: what precedes it is sent first, on its own.
 */
static ssize_t conn_send(JsonrpcConn *c) {
        const uint8_t *p = c->out->data + c->out_start;
        JsonrpcFdFrame *f;
        size_t len = conn_pending(c);

        if (!c->fd_frames || c->fd_frames->len == 0)
                return send(c->fd, p, len, MSG_NOSIGNAL);

        f = &g_array_index(c->fd_frames, JsonrpcFdFrame, 0);
        if (f->offset > c->out_start)
                return send(c->fd, p, f->offset - c->out_start, MSG_NOSIGNAL);

        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * JSONRPC_MAX_FDS)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) p, .iov_len = len };
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(sizeof(int) * f->fds.n),
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        ssize_t n;

        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * f->fds.n);
        memcpy(CMSG_DATA(cm), f->fds.fds, sizeof(int) * f->fds.n);
        n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n > 0) {
                /* Sent: the peer has its own copies now. */
                jsonrpc_fds_close(&f->fds);
                g_array_remove_index(c->fd_frames, 0);
        }
        return n;
}

/* Write what is queued; on EAGAIN wait for EPOLLOUT. */
static void conn_flush(JsonrpcConn *c) {
        /* Replies that acknowledge a change go out once the journal has it on disk. */
        if (c->held) {
                conn_update_events(c);
                return;
        }

        while (conn_pending(c) > 0) {
                ssize_t n = conn_send(c);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        log_debug_errno(-errno, "%s: write failed: %m", c->who);
                        g_byte_array_set_size(c->out, 0);
                        c->out_start = 0;
                        conn_fd_frames_clear(c);
                        conn_close_soon(c);
                        return;
                }
                c->out_start += (size_t) n;
        }

        if (c->out_start == c->out->len) {
                /* Drained: a buffer a burst made large is given back, not kept for good. */
                if (c->out->len > FRAME_KEEP_BYTES) {
                        g_byte_array_unref(c->out);
                        c->out = g_byte_array_new();
                } else
                        g_byte_array_set_size(c->out, 0);
                c->out_start = 0;
        } else if (c->out_start > c->out->len / 2) {
                /* Frames with fds are all after out_start: they move to the front too. */
                for (guint i = 0; c->fd_frames && i < c->fd_frames->len; i++)
                        g_array_index(c->fd_frames, JsonrpcFdFrame, i).offset -= c->out_start;
                g_byte_array_remove_range(c->out, 0, (guint) c->out_start);
                c->out_start = 0;
        }

        if (c->closing && conn_pending(c) == 0) {
                conn_close_soon(c);
                return;
        }
        if (c->paused && !c->closing && conn_pending(c) <= c->server->config.max_output / 2) {
                /* Requests read before we paused wait in the reader: no EPOLLIN will bring them. */
                c->paused = false;
                conn_handle_input(c);
                (void) sd_event_source_set_enabled(c->flush_defer, SD_EVENT_ONESHOT);
        }
        conn_update_events(c);

        /* Read down: tell subscriptions what they missed while it was full. */
        if (c->refused && !c->closing && conn_pending(c) <= c->server->config.max_output / 2) {
                c->refused = false;
                client_flush_gaps(&c->client);
                (void) sd_event_source_set_enabled(c->flush_defer, SD_EVENT_ONESHOT);
        }
}

static const ClientSink conn_sink, tcp_sink;

/* A TCP connection stops waiting to authenticate: it did, or failed, or timed out, or left. */
static void conn_unauthenticated_end(JsonrpcConn *c, bool timed_out, bool failed) {
        if (!c->unauthenticated)
                return;
        c->unauthenticated = false;
        c->auth_timer = sd_event_source_disable_unref(c->auth_timer);
        jsonrpc_tcp_unauthenticated_gone(c->server->tcp, timed_out, failed);
}

static void conn_auth_failed(JsonrpcConn *c) {
        conn_unauthenticated_end(c, false, true);
}

/*
 * The first frame of a TCP connection: hub.auth with the right token makes
 * it a client of the hub; anything else is answered with AccessDenied (or
 * the error it is), logged with the peer's address, and the connection closes.
 *
 * Return: 0 when authenticated, a negative errno when it must close.
 */
static int conn_authenticate(JsonrpcConn *c, const char *body, size_t len) {
        JsonrpcServer *s = c->server;
        g_autofree char *id_json = NULL, *why = NULL;
        const char *token;
        size_t token_len;
        int r;

        r = jsonrpc_auth_read(c->parser, body, len, &token, &token_len, &id_json, &why);
        if (r >= 0)
                r = jsonrpc_tcp_token_check(s->tcp, token, token_len);
        if (r == 0) {
                why = g_strdup("Access denied: wrong token; closing the connection.");
                r = -EACCES;
        } else if (r == -EMFILE || r == -ENFILE) {
                why = g_strdup("The hub has no file descriptors left to read the token file; try again once "
                               "other clients have closed theirs.");
        }
        if (r < 0) {
                bool no_fds = r == -EMFILE || r == -ENFILE;

                log_warning("%s: refused: %s", c->who, why);
                jsonrpc_append_error_for(c->out, id_json ?: "null",
                                         no_fds ? hub_error_find("LimitExceeded")->code :
                                         r == -EACCES ? hub_error_find("AccessDenied")->code :
                                         id_json ? JSONRPC_INVALID_PARAMS : JSONRPC_PARSE_ERROR,
                                         no_fds ? "LimitExceeded" : "AccessDenied", why);
                conn_auth_failed(c);
                return r;
        }

        /* Only now is it a client of the hub: unauthenticated bytes never reach the core. */
        r = client_init(&c->client, s->hub, &tcp_sink, (uid_t) -1, 0, NULL, false);
        if (r < 0) {
                g_autofree char *msg = g_strdup_printf("Too many clients: the hub serves at most %u.",
                                                       hub_get_limits(s->hub)->max_clients);

                log_warning("%s: refused: %s", c->who, msg);
                jsonrpc_append_error_for(c->out, id_json, JSONRPC_INVALID_REQUEST, "LimitExceeded", msg);
                conn_unauthenticated_end(c, false, false);
                return r;
        }
        client_set_address(&c->client, c->address);
        c->authenticated = true;
        conn_unauthenticated_end(c, false, false);
        c->reader.max_frame = s->config.max_frame;
        g_free(c->who);
        c->who = g_strdup_printf("client %" PRIu64 " (tcp %s)", c->client.info.id, c->address);
        log_info("%s: authenticated.", c->who);

        g_autoptr(GString) ok = g_string_new("{\"jsonrpc\":\"2.0\",\"id\":");
        g_string_append(ok, id_json);
        g_string_append(ok, ",\"result\":{\"client\":");
        g_string_append_printf(ok, "%" PRIu64 "}}", c->client.info.id);
        frame_append(c->out, ok->str, ok->len);
        return 0;
}

static void conn_handle_input(JsonrpcConn *c) {
        JsonrpcContext ctx = {
                .hub = c->server->hub,
                .client = &c->client,
                .out = c->out,
                .deferred = c->deferred,
                .parser = c->parser,
                /* fds travel over Unix sockets only: no shm.* over TCP ("method not found"). */
                .ext = c->tcp ? NULL : c->server->ext,
        };
        const char *body;
        size_t len;
        int r;

        /* Over max_output, stop: the rest waits in the reader until the client reads its replies. */
        while (!c->closing && conn_pending(c) <= c->server->config.max_output &&
               (r = frame_reader_next(&c->reader, &body, &len)) != 0) {
                if (r < 0) {
                        g_autofree char *msg = g_strdup_printf(
                                "Frame too large: at most %zu bytes%s; closing the connection.",
                                c->reader.max_frame, c->authenticated ? "" : " before hub.auth");

                        log_notice("%s: %s", c->who, msg);
                        jsonrpc_append_error(c->out, JSONRPC_INVALID_REQUEST, "LimitExceeded", msg);
                        c->server->stats.frames_too_large++;
                        if (!c->authenticated)
                                conn_auth_failed(c);
                        c->closing = true;
                        break;
                }
                if (!c->authenticated) {
                        if (conn_authenticate(c, body, len) < 0) {
                                c->closing = true;
                                break;
                        }
                        continue;
                }
                (void) jsonrpc_dispatch(&ctx, body, len);
                if (ctx.fds.n > 0) {
                        JsonrpcFdFrame f = { .offset = ctx.fds_offset, .fds = ctx.fds };

                        if (!c->fd_frames)
                                c->fd_frames = g_array_new(FALSE, FALSE, sizeof(JsonrpcFdFrame));
                        g_array_append_val(c->fd_frames, f);
                        ctx.fds.n = 0;
                }
        }
        g_free(ctx.error);

        if (conn_pending(c) > c->server->config.max_output)
                c->paused = true;
        /* Hold only what acknowledges this client's own changes: reads go out at once. */
        if (ctx.hold && !c->held) {
                c->held = true;
                hub_durable_wait(c->server->hub, &c->durable);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        JsonrpcConn *c = userdata;

        if (revents & EPOLLIN) {
                char buf[READ_CHUNK];
                /* Before hub.auth, no more than its one frame may be read and buffered. */
                size_t want = c->authenticated ? sizeof buf :
                              MIN(sizeof buf, c->reader.max_frame + FRAME_HEADER_SIZE -
                                              MIN(frame_reader_pending(&c->reader),
                                                  c->reader.max_frame + FRAME_HEADER_SIZE - 1));
                ssize_t n = recv(fd, buf, want, 0);

                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        /* Gone: a partial frame left in the reader is freed with the connection. */
                        log_debug("%s: disconnected", c->who);
                        conn_close_soon(c);
                        return 0;
                }
                if (n > 0) {
                        frame_reader_feed(&c->reader, buf, (size_t) n);
                        conn_handle_input(c);
                }
        } else if (revents & (EPOLLHUP | EPOLLERR) && !(revents & EPOLLOUT)) {
                conn_close_soon(c);
                return 0;
        }

        conn_flush(c);
        /* What this input made for other clients goes out now, one write per client. */
        while (!g_queue_is_empty(&c->server->dirty)) {
                JsonrpcConn *other = c->server->dirty.head->data;

                g_queue_unlink(&c->server->dirty, &other->dirty_link);
                other->dirty_link.data = NULL;
                (void) sd_event_source_set_enabled(other->flush_defer, SD_EVENT_OFF);
                conn_flush(other);
        }
        return 0;
}

static int on_flush(sd_event_source *s, void *userdata) {
        JsonrpcConn *c = userdata;

        if (c->dirty_link.data) {
                g_queue_unlink(&c->server->dirty, &c->dirty_link);
                c->dirty_link.data = NULL;
        }
        conn_flush(c);
        return 0;
}

static int on_close(sd_event_source *s, void *userdata) {
        jsonrpc_conn_free(userdata);
        return 0;
}

/*
 * Output was queued by another client's doing. When that client's input is
 * handled (on_io), it goes out right after, in the same loop iteration, one
 * write for all of it; the defer source covers output from anywhere else
 * (D-Bus, timers).
 */
static void conn_flush_soon(JsonrpcConn *c) {
        /* Queued already, its defer source is on: a delivery costs no sd-event call. */
        if (c->dirty_link.data)
                return;
        c->dirty_link.data = c;
        g_queue_push_tail_link(&c->server->dirty, &c->dirty_link);
        (void) sd_event_source_set_enabled(c->flush_defer, SD_EVENT_ONESHOT);
}

static void on_durable(HubWaiter *w) {
        JsonrpcConn *c = (JsonrpcConn *) ((char *) w - offsetof(JsonrpcConn, durable));

        c->held = false;
        conn_flush_soon(c);
}

/* A late answer (ENVELOPE_JOB, ENVELOPE_REPLY) is a response: never refused for space. */
static int conn_answer(JsonrpcConn *c, const Envelope *e) {
        uint64_t key = op_answer_key(e->kind, e->sub_id);
        const JsonrpcDeferred *d = g_hash_table_lookup(c->deferred, &key);

        if (!d)
                return -ENOENT;
        jsonrpc_append_answer(c->out, c->server->hub, d, e);
        g_hash_table_remove(c->deferred, &key);
        conn_flush_soon(c);
        return 0;
}

static int conn_deliver(Client *client, const Envelope *e) {
        JsonrpcConn *c = (JsonrpcConn *) client;
        JsonrpcServer *s = c->server;

        if (e->kind == ENVELOPE_JOB || e->kind == ENVELOPE_REPLY)
                return c->closing ? -ENOBUFS : conn_answer(c, e);
        /* An upper bound of the frame: base64 grows by 4/3, JSON escapes by up to 6. */
        size_t estimate = 256 + strlen(e->topic ?: "") + e->payload_len * 6;

        if (c->closing)
                return -ENOBUFS;
        /*
         * A gap notice waits until the client has read its buffer down to half: queued while it is
         * still full, it would be followed by more drops, and by one more notice per message.
         */
        if (e->kind == ENVELOPE_GAP && conn_pending(c) > s->config.max_output / 2) {
                c->refused = true;
                return -ENOBUFS;
        }
        if (conn_pending(c) > 0 && conn_pending(c) + estimate > s->config.max_output) {
                c->refused = true;
                if (s->config.disconnect_slow) {
                        log_notice("%s: output buffer full, disconnecting the slow consumer.", c->who);
                        s->stats.slow_disconnects++;
                        g_byte_array_set_size(c->out, 0);
                        c->out_start = 0;
                        conn_close_soon(c);
                }
                return -ENOBUFS;
        }

        jsonrpc_append_envelope(c->out, e);
        conn_flush_soon(c);
        return 0;
}

static const ClientSink conn_sink = {
        .transport = "unix",
        .deliver = conn_deliver,
};

/* The same connection; its sender identity is its peer address, not a uid it cannot prove. */
static const ClientSink tcp_sink = {
        .transport = "tcp",
        .deliver = conn_deliver,
};

void jsonrpc_conn_free(JsonrpcConn *c) {
        if (!c)
                return;
        log_debug("%s: closed", c->who);
        conn_unauthenticated_end(c, false, false);
        if (c->server->ext && c->server->ext->client_gone && !c->tcp)
                c->server->ext->client_gone(c->server->ext->userdata, &c->client);
        client_deinit(&c->client);
        conn_fd_frames_clear(c);
        g_clear_pointer(&c->fd_frames, g_array_unref);
        hub_durable_cancel(c->server->hub, &c->durable);
        g_clear_pointer(&c->deferred, g_hash_table_destroy);
        g_clear_pointer(&c->parser, json_parser_free);
        c->io = sd_event_source_disable_unref(c->io);
        c->flush_defer = sd_event_source_disable_unref(c->flush_defer);
        c->close_defer = sd_event_source_disable_unref(c->close_defer);
        fd_close(c->fd);
        frame_reader_deinit(&c->reader);
        g_clear_pointer(&c->out, g_byte_array_unref);
        if (c->link.data)
                g_queue_unlink(&c->server->conns, &c->link);
        if (c->dirty_link.data)
                g_queue_unlink(&c->server->dirty, &c->dirty_link);
        g_free(c->who);
        g_free(c->address);
        g_free(c);
}

/* Not yet linked anywhere: free with jsonrpc_conn_free(). */
static JsonrpcConn *conn_alloc(JsonrpcServer *s, int fd, size_t max_frame) {
        JsonrpcConn *c = g_new0(JsonrpcConn, 1);

        c->server = s;
        c->fd = fd;
        c->out = g_byte_array_new();
        c->durable.durable = on_durable;
        c->deferred = jsonrpc_deferred_new();
        c->parser = json_parser_new();
        frame_reader_init(&c->reader, max_frame);
        return c;
}

/* Link @c into the server and the loop; frees it on failure. */
static int conn_start(JsonrpcConn *c) {
        JsonrpcServer *s = c->server;
        int r;

        c->link.data = c;
        g_queue_push_tail_link(&s->conns, &c->link);

        c->io_events = EPOLLIN;
        r = sd_event_add_io(s->event, &c->io, c->fd, EPOLLIN, on_io, c);
        if (r >= 0)
                r = sd_event_add_defer(s->event, &c->flush_defer, on_flush, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->flush_defer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_defer(s->event, &c->close_defer, on_close, c);
        if (r >= 0)
                r = sd_event_source_set_enabled(c->close_defer, SD_EVENT_OFF);
        if (r < 0) {
                jsonrpc_conn_free(c);
                return log_error_errno(r, "Failed to watch a new connection: %m");
        }
        /*
         * Close after flushing pending writes: lower priority than I/O and flushes, but above the
         * listener, so that clients waiting to be accepted never keep closed ones' fds from being freed.
         */
        (void) sd_event_source_set_priority(c->close_defer, SD_EVENT_PRIORITY_NORMAL + 1);
        log_debug("%s: connected", c->who);
        return 0;
}

/**
 * jsonrpc_conn_new() - serve the accepted socket @fd (taken over, also on failure)
 * @uid, @pid: the peer's credentials from SO_PEERCRED
 *
 * Return: 0; -EDQUOT when the hub has max_clients clients (the peer is told
 * before the socket closes), or a negative errno from sd-event.
 */
int jsonrpc_conn_new(JsonrpcServer *s, int fd, uid_t uid, pid_t pid) {
        JsonrpcConn *c = conn_alloc(s, fd, s->config.max_frame);
        int r;

        c->authenticated = true;
        c->who = g_strdup_printf("connection (unix, uid %u, pid %u)", (unsigned) uid, (unsigned) pid);
        r = client_init(&c->client, s->hub, &conn_sink, uid, pid, NULL, false);
        if (r < 0) {
                g_autofree char *msg = g_strdup_printf("Too many clients: the hub serves at most %u.",
                                                       hub_get_limits(s->hub)->max_clients);

                jsonrpc_append_error(c->out, JSONRPC_INVALID_REQUEST, "LimitExceeded", msg);
                (void) send(fd, c->out->data, c->out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
                log_warning("Refused a connection from uid %u pid %u: %s", (unsigned) uid, (unsigned) pid, msg);
                jsonrpc_conn_free(c);
                return r;
        }
        g_free(c->who);
        c->who = g_strdup_printf("client %" PRIu64 " (unix, uid %u, pid %u)", c->client.info.id, (unsigned) uid,
                                 (unsigned) pid);
        return conn_start(c);
}

static int on_auth_timeout(sd_event_source *source, uint64_t usec, void *userdata) {
        JsonrpcConn *c = userdata;
        g_autofree char *msg = g_strdup_printf("Access denied: no hub.auth within %" PRIu64 " ms; closing the "
                                               "connection.", c->server->config.tcp.auth_timeout_ms);

        log_warning("%s: refused: %s", c->who, msg);
        jsonrpc_append_error(c->out, hub_error_find("AccessDenied")->code, "AccessDenied", msg);
        conn_unauthenticated_end(c, true, false);
        c->closing = true;
        conn_flush(c);
        return 0;
}

/**
 * jsonrpc_conn_new_tcp() - serve the accepted TCP socket @fd (taken over, also on failure)
 * @address: the peer's address, "127.0.0.1:53412"
 *
 * The connection is no client of the hub until its first frame, hub.auth,
 * presents the token; it has auth-timeout to do so, and its frame may be
 * max-auth-bytes long. The caller has checked max-unauthenticated.
 *
 * Return: 0, or a negative errno from sd-event.
 */
int jsonrpc_conn_new_tcp(JsonrpcServer *s, int fd, const char *address) {
        JsonrpcConn *c = conn_alloc(s, fd, s->config.tcp.max_auth_bytes);
        int r;

        c->tcp = true;
        c->address = g_strdup(address);
        c->who = g_strdup_printf("TCP connection from %s", address);
        c->unauthenticated = true;
        r = sd_event_add_time_relative(s->event, &c->auth_timer, CLOCK_MONOTONIC,
                                       s->config.tcp.auth_timeout_ms * 1000, 1000, on_auth_timeout, c);
        if (r < 0) {
                jsonrpc_conn_free(c);
                return log_error_errno(r, "Failed to set up a TCP connection's timer: %m");
        }
        return conn_start(c);
}

/**
 * jsonrpc_server_set_extension() - serve @ext's socket-only methods (shm.*)
 * on every connection; @ext must outlive @s
 */
void jsonrpc_server_set_extension(JsonrpcServer *s, const JsonrpcExtension *ext) {
        s->ext = ext;
}
