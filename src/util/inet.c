/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inet.c: see inet.h. The grammar:
 *
 *   address = host ":" port
 *   host    = IPv4 ("127.0.0.1") | "[" IPv6 "]" ("[::1]") | name (INET_NAMES only)
 *   port    = 0..65535
 *
 * Brackets are required around IPv6 so that the last ':' is always the port's.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include <glib.h>

#include "util/inet.h"

/**
 * inet_address_parse() - the address @s ("127.0.0.1:7420", "[::1]:0")
 *
 * Return: 0; -EINVAL for text that is not host:port, -EADDRNOTAVAIL for a
 * host that does not resolve (a name with INET_NAMES, else anything not numeric).
 */
int inet_address_parse(const char *s, InetFlags flags, InetAddress *ret) {
        struct addrinfo hints = {
                .ai_socktype = SOCK_STREAM,
                .ai_flags = AI_NUMERICSERV | ((flags & INET_NAMES) ? 0 : AI_NUMERICHOST),
        };
        struct addrinfo *res = NULL;
        g_autofree char *host = NULL;
        const char *colon, *port;
        char *end;
        unsigned long p;

        if (!s || strlen(s) > 300)
                return -EINVAL;
        colon = strrchr(s, ':');
        if (!colon || colon == s)
                return -EINVAL;
        port = colon + 1;
        if (!g_ascii_isdigit(*port))
                return -EINVAL;
        p = strtoul(port, &end, 10);
        if (*end || p > 65535)
                return -EINVAL;

        if (s[0] == '[') {
                if (colon[-1] != ']' || colon - s < 3)
                        return -EINVAL;
                host = g_strndup(s + 1, (size_t) (colon - s - 2));
                hints.ai_family = AF_INET6;
                hints.ai_flags |= AI_NUMERICHOST;
        } else {
                host = g_strndup(s, (size_t) (colon - s));
                if (strchr(host, ':') || strchr(host, ']'))
                        return -EINVAL;         /* IPv6 without brackets */
        }
        if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
                return -EADDRNOTAVAIL;
        memset(ret, 0, sizeof *ret);
        memcpy(&ret->ss, res->ai_addr, res->ai_addrlen);
        ret->len = res->ai_addrlen;
        freeaddrinfo(res);
        return 0;
}

/**
 * inet_address_format() - "127.0.0.1:53412" or "[::1]:53412" for @sa
 *
 * Return: a new string ("?" for a family other than IPv4 and IPv6).
 */
char *inet_address_format(const struct sockaddr *sa, socklen_t len) {
        char host[NI_MAXHOST], serv[NI_MAXSERV];

        if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
            getnameinfo(sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
                return g_strdup("?");
        return sa->sa_family == AF_INET6 ? g_strdup_printf("[%s]:%s", host, serv)
                                         : g_strdup_printf("%s:%s", host, serv);
}

/**
 * inet_address_is_loopback() - whether @a is 127.0.0.0/8 or ::1 (or ::ffff:127.x)
 */
bool inet_address_is_loopback(const InetAddress *a) {
        if (a->ss.ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) &a->ss;

                return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        }
        if (a->ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &a->ss;

                if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
                        return true;
                return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
        }
        return false;
}
