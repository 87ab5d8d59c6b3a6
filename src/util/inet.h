/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inet.h: TCP addresses as people write them: "127.0.0.1:7420",
 * "[::1]:7420", "0.0.0.0:0" (port 0: the kernel picks one), and with
 * INET_NAMES also "host.example:7420". No I/O beyond getaddrinfo().
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

typedef struct InetAddress {
        struct sockaddr_storage ss;
        socklen_t len;
} InetAddress;

typedef enum InetFlags {
        INET_NUMERIC = 0,               /* numeric hosts only: never blocks on a resolver */
        INET_NAMES = 1 << 0,            /* host names too (the CLI's --tcp) */
} InetFlags;

int inet_address_parse(const char *s, InetFlags flags, InetAddress *ret);
char *inet_address_format(const struct sockaddr *sa, socklen_t len);
bool inet_address_is_loopback(const InetAddress *a);
