/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * utf8.h: what counts as text, everywhere: valid UTF-8 without NUL bytes and
 * without Unicode noncharacters (which sd-bus refuses in a string). Text
 * travels as a string where a transport has strings (D-Bus 's', JSON);
 * anything else as bytes. The hub (core, both faces), the client library
 * and the CLI use this one function, so they never disagree about which
 * form a payload takes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

bool payload_is_text(const void *payload, size_t len);
bool utf8_is_valid(const void *p, size_t len);
