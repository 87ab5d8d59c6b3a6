/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dbus-vtable.h: the sd-bus vtable of org.switchboard.Hub1, generated from
 * the interface XML (dbus-vtable.c, by src/ops/ops-gen.py). Every method
 * goes to dbus_vtable_method(), every property to dbus_vtable_property(),
 * both in dbus-service.c, which read and write by the op table.
 */
#pragma once

#include <systemd/sd-bus.h>

typedef struct DbusPropertyInfo {
        const char *property;           /* the D-Bus property */
        const char *info;               /* its entry in op_info_dict() */
} DbusPropertyInfo;

extern const sd_bus_vtable dbus_vtable[];
extern const DbusPropertyInfo dbus_properties[];   /* ends with { NULL, NULL } */

int dbus_vtable_method(sd_bus_message *m, void *userdata, sd_bus_error *error);
int dbus_vtable_property(sd_bus *bus, const char *path, const char *interface, const char *property,
                         sd_bus_message *reply, void *userdata, sd_bus_error *error);
