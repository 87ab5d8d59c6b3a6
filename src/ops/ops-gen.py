#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ops-gen.py: the op table, generated from the interface XML, the one
# definition of every operation (docs/architecture.md, "One definition").
#
#   ops-gen.py INTERFACE.xml OUTDIR
#
# writes OUTDIR/ops-table.h (OpArgs, OpResult, the OpMethod descriptors and
# the op_* handler prototypes), OUTDIR/ops-table.c (the descriptors, the
# lookups by D-Bus member and JSON-RPC name, the rpc.describe text: all a
# client needs, without the core), OUTDIR/ops-handlers-table.c (the core
# handler of each descriptor, for the hub) and OUTDIR/dbus-vtable.c (the sd-bus vtable: every method, signal and property
# with its argument names, all routed to the D-Bus face's generic handler).
#
# Annotations read (all org.switchboard.*; D-Bus ignores them):
#   method  Op=NAME            the core handler op_NAME() (default: the member in snake_case)
#           Set=ARG=VALUE,...  op params this member lacks, fixed (PublishRetained: retain=true)
#           JsonRpc=NAME       the JSON-RPC method; twins share one name, and the JSON-RPC
#                              params are those of the twin with the most args ('ay' wins ties)
#           JsonRpc.Params=..  JSON-RPC params when they are not the D-Bus args:
#                              NAME[:TYPE][=DEFAULT] ..., TYPE a D-Bus code or 'i'
#           JsonRpc.Echo=ARG   in-args repeated in the JSON-RPC result
#           Fifo=true          may arrive through the FIFO (one-way)
#           Durable=true       may change durable state: its answer can wait for the disk
#           Deferred=true      may be answered later (a waiting reserve, a call)
#           Anonymous=true     needs no client on the hub (reads, admin)
#           Errors=NAME ...    the hub errors it may return
#   arg     Bytes=true         an 's' that carries payload bytes (text on D-Bus)
#           JsonRpc.Name=NAME  its name on JSON-RPC, when different
#           JsonRpc.Default=V  optional on JSON-RPC, with this default
#           Fields=F[:bytes].. the members of each struct of an a(...) result
#           CType=TYPE         the core's C struct of such an element
#           DBus.NotText=HINT  an out 's' of bytes that are not text is the NotText error
#   signal  JsonRpc=NAME       the notification that carries it on JSON-RPC
#   property Info=KEY          the hub.info / GetInfo entry it shows
#
# Python stdlib only; nobody edits the output.

import os
import re
import sys
import xml.etree.ElementTree as ET

NS = 'org.switchboard.'
TYPES = {'s': 'OP_TYPE_STRING', 'ay': 'OP_TYPE_BYTES', 'b': 'OP_TYPE_BOOL', 'u': 'OP_TYPE_U32',
         't': 'OP_TYPE_U64', 'i': 'OP_TYPE_I32', 'a{sv}': 'OP_TYPE_DICT'}
CTYPES = {'OP_TYPE_STRING': 'const char *', 'OP_TYPE_BYTES': 'OpBytes ', 'OP_TYPE_BOOL': 'bool ',
          'OP_TYPE_U32': 'uint32_t ', 'OP_TYPE_U64': 'uint64_t ', 'OP_TYPE_I32': 'int32_t ',
          'OP_TYPE_ROWS': 'GArray *', 'OP_TYPE_DICT': 'GVariant *'}


def fail(msg):
    sys.exit('ops-gen.py: ' + msg)


def ann(el, name, default=None):
    for a in el.findall('annotation'):
        if a.get('name') == NS + name:
            return a.get('value')
    return default


def snake(name):
    return re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()


def cstr(s):
    if s is None:
        return 'NULL'
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


class Param:
    def __init__(self, name, dbus_sig, optype, default=None, hint=None, rows=None, dbus_name=None):
        self.name, self.dbus_sig, self.type = name, dbus_sig, optype
        self.default, self.hint, self.rows = default, hint, rows
        self.dbus_name = dbus_name or name


def arg_param(a):
    sig = a.get('type')
    name = ann(a, 'JsonRpc.Name', a.get('name'))
    rows = None
    if sig == 's' and ann(a, 'Bytes') == 'true':
        optype = 'OP_TYPE_BYTES'
    elif sig.startswith('a(') and sig.endswith(')'):
        optype = 'OP_TYPE_ROWS'
        fields = ann(a, 'Fields', '').split()
        ctype = ann(a, 'CType')
        codes = list(sig[2:-1])
        if not ctype or len(fields) != len(codes):
            fail('%s: an a(...) needs Fields for each member and a CType' % name)
        rows = (ctype, sig[1:], [(f.split(':')[0], c, f.endswith(':bytes')) for f, c in zip(fields, codes)])
    elif sig in TYPES:
        optype = TYPES[sig]
    else:
        fail('%s: type %s has no op type' % (name, sig))
    return Param(name, sig, optype, ann(a, 'JsonRpc.Default'), ann(a, 'DBus.NotText'), rows, a.get('name'))


class Method:
    def __init__(self, el):
        self.member = el.get('name')
        self.op = ann(el, 'Op', snake(self.member))
        self.jsonrpc = ann(el, 'JsonRpc')
        self.fifo = ann(el, 'Fifo') == 'true'
        self.durable = ann(el, 'Durable') == 'true'
        self.deferred = ann(el, 'Deferred') == 'true'
        self.anonymous = ann(el, 'Anonymous') == 'true'
        self.errors = ann(el, 'Errors', '').split()
        self.preset = [kv.split('=', 1) for kv in ann(el, 'Set', '').split(',') if kv]
        self.echo = (ann(el, 'JsonRpc.Echo') or '').split()
        self.json_params_spec = ann(el, 'JsonRpc.Params')
        self.ins = [arg_param(a) for a in el.findall('arg') if a.get('direction', 'in') == 'in']
        self.outs = [arg_param(a) for a in el.findall('arg') if a.get('direction') == 'out']
        self.sig = ''.join(p.dbus_sig for p in self.ins) + '>' + ''.join(p.dbus_sig for p in self.outs)
        self.primary = False
        self.json_ins = None


def json_params(m):
    if not m.json_params_spec:
        return m.ins
    by_name = {p.name: p for p in m.ins}
    out = []
    for spec in m.json_params_spec.split():
        mm = re.fullmatch(r'(\w+)(?::(\w))?(?:=(.*))?', spec)
        if not mm:
            fail('%s: bad JsonRpc.Params entry %r' % (m.member, spec))
        name, code, default = mm.groups()
        base = by_name.get(name)
        if base is None and not code:
            fail('%s: JSON-RPC param %s needs a type' % (m.member, name))
        p = Param(name, base.dbus_sig if base else None, base.type if base else TYPES[code],
                  default if default is not None else (base.default if base else None))
        out.append(p)
    return out


def main():
    xml_path, outdir = sys.argv[1], sys.argv[2]
    root = ET.parse(xml_path).getroot()
    ifaces = root.findall('interface')
    if len(ifaces) != 1:
        fail('expected one interface')
    iface = ifaces[0]
    iface_name = iface.get('name')
    methods = [Method(el) for el in iface.findall('method')]

    # JSON-RPC methods: the twin with the most args (then one with 'ay') defines the params.
    by_json = {}
    for m in methods:
        if m.jsonrpc:
            by_json.setdefault(m.jsonrpc, []).append(m)
    for name, twins in by_json.items():
        best = max(twins, key=lambda m: (len(m.ins), 'ay' in m.sig))
        ops = {t.op for t in twins}
        if len(ops) != 1:
            fail('JSON-RPC %s: twins call different ops %s' % (name, ops))
        for t in twins:
            missing = {p.name for p in t.ins} - {p.name for p in best.ins}
            if missing:
                fail('JSON-RPC %s: %s has args %s that %s lacks' % (name, t.member, missing, best.member))
        best.primary = True
        best.json_ins = json_params(best)

    # OpArgs and OpResult: one member per name; a name has one type everywhere.
    def collect(params_lists, what):
        members = {}
        for params in params_lists:
            for p in params:
                if members.setdefault(p.name, p.type) != p.type:
                    fail('%s %s has two types: %s, %s' % (what, p.name, members[p.name], p.type))
        return members
    in_members = collect([m.ins for m in methods] + [m.json_ins for m in methods if m.json_ins], 'arg')
    out_members = collect([m.outs for m in methods], 'result')
    rows = {}
    for m in methods:
        for p in m.outs:
            if p.rows:
                rows[p.rows[0]] = p.rows

    signals = []
    for s in iface.findall('signal'):
        signals.append((s.get('name'), [(a.get('name'), a.get('type')) for a in s.findall('arg')],
                        ann(s, 'JsonRpc')))
    props = []
    for p in iface.findall('property'):
        emits = 'true'
        for a in p.findall('annotation'):
            if a.get('name') == 'org.freedesktop.DBus.Property.EmitsChangedSignal':
                emits = a.get('value')
        info = ann(p, 'Info')
        if not info:
            fail('property %s has no Info key' % p.get('name'))
        props.append((p.get('name'), p.get('type'), emits, info))

    ops = sorted({m.op for m in methods})
    write_header(outdir, iface_name, methods, in_members, out_members, ops)
    write_table(outdir, methods, rows, by_json, signals)
    write_vtable(outdir, methods, signals, props)


def write_header(outdir, iface_name, methods, in_members, out_members, ops):
    h = []
    h.append('/* Generated by src/ops/ops-gen.py from the interface XML: do not edit. */')
    h.append('#pragma once\n')
    h.append('#include "ops/ops-types.h"\n')
    h.append('#define OPS_INTERFACE %s' % cstr(iface_name))
    h.append('#define OPS_ERROR_PREFIX OPS_INTERFACE ".Error."\n')
    h.append('/* Every in-arg of every operation, by name (JSON-RPC names). */')
    h.append('struct OpArgs {')
    for name, t in sorted(in_members.items()):
        h.append('        %s%s;' % (CTYPES[t], name))
    h.append('};\n')
    h.append('/* Every result, by name. op_result_clear() frees the arrays and dictionaries. */')
    h.append('struct OpResult {')
    for name, t in sorted(out_members.items()):
        h.append('        %s%s;' % (CTYPES[t], name))
    h.append('};\n')
    h.append('void op_result_clear(OpResult *out);')
    h.append('G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(OpResult, op_result_clear)\n')
    h.append('/* The core handlers, one per operation (src/ops/ops.c). */')
    for op in ops:
        h.append('int op_%s(OpCall *call, const OpArgs *in, OpResult *out);' % op)
    h.append('')
    h.append('extern const OpMethod op_methods[];')
    h.append('extern const OpHandler op_handlers[];          /* by index in op_methods */')
    h.append('extern const unsigned op_n_methods;')
    h.append('extern const char op_describe_json[];')
    h.append('extern const OpNotification op_notifications[];')
    h.append('extern const unsigned op_n_notifications;')
    h.append('const OpMethod *op_method_by_dbus(const char *member);')
    h.append('const OpMethod *op_method_by_jsonrpc(const char *name);')
    with open(os.path.join(outdir, 'ops-table.h'), 'w') as f:
        f.write('\n'.join(h) + '\n')


def param_init(p, struct):
    off = 'offsetof(%s, %s)' % (struct, p.name)
    rows = '&rows_%s' % p.rows[0] if p.rows else 'NULL'
    dbus = {'s': "'s'", 'ay': "'y'", 'b': "'b'", 'u': "'u'", 't': "'t'", 'a{sv}': "'v'", None: '0'}
    code = dbus.get(p.dbus_sig, "'a'")
    b64 = cstr(p.name + '_base64') if p.type == 'OP_TYPE_BYTES' else 'NULL'
    return '{ %s, %s, %s, %s, %s, %s, %s, %s }' % (cstr(p.name), p.type, code, off, cstr(p.default),
                                                   cstr(p.hint), rows, b64)


def write_table(outdir, methods, rows, by_json, signals):
    c = []
    c.append('/* Generated by src/ops/ops-gen.py from the interface XML: do not edit. */')
    c.append('#include <stddef.h>')
    c.append('#include <string.h>\n')
    c.append('#include "ops-table.h"\n')
    for ctype, (_, sig, fields) in sorted(rows.items()):
        c.append('static const OpField fields_%s[] = {' % ctype)
        for name, code, is_bytes in fields:
            t = 'OP_TYPE_BYTES' if is_bytes else TYPES[code]
            lenoff = 'offsetof(%s, %s_len)' % (ctype, name) if is_bytes else '0'
            c.append('        { %s, %s, \'%s\', offsetof(%s, %s), %s },' % (cstr(name), t, code, ctype, name,
                                                                             lenoff))
        c.append('};')
        c.append('static const OpRows rows_%s = { %s, %s, sizeof(%s), fields_%s, %d };\n'
                 % (ctype, cstr(sig), cstr(sig[1:-1]), ctype, ctype, len(fields)))

    for m in methods:
        for what, params, struct in (('in', m.ins, 'OpArgs'), ('json', m.json_ins or [], 'OpArgs'),
                                     ('out', m.outs, 'OpResult')):
            if params:
                c.append('static const OpParam %s_%s[] = {' % (what, m.member))
                for p in params:
                    c.append('        %s,' % param_init(p, struct))
                c.append('};')
        if m.echo:
            by_name = {p.name: p for p in m.ins}
            c.append('static const OpParam echo_%s[] = {' % m.member)
            for e in m.echo:
                if e not in by_name:
                    fail('%s: echo of unknown arg %s' % (m.member, e))
                c.append('        %s,' % param_init(by_name[e], 'OpArgs'))
            c.append('};')
        if m.preset:
            c.append('static void preset_%s(OpArgs *in) {' % m.member)
            for k, v in m.preset:
                c.append('        in->%s = %s;' % (k, v))
            c.append('}')
        c.append('')

    def arr(prefix, m, present):
        return ('%s_%s, G_N_ELEMENTS(%s_%s)' % (prefix, m.member, prefix, m.member)) if present else 'NULL, 0'

    c.append('const OpMethod op_methods[] = {')
    for m in methods:
        flags = ' | '.join(f for f, on in (('OP_FIFO', m.fifo), ('OP_DURABLE', m.durable),
                                          ('OP_DEFERRED', m.deferred), ('OP_ANONYMOUS', m.anonymous),
                                          ('OP_JSONRPC_PRIMARY', m.primary)) if on) or '0'
        c.append('        {')
        c.append('                .dbus = %s,' % cstr(m.member))
        c.append('                .jsonrpc = %s,' % cstr(m.jsonrpc))
        c.append('                .op = %s,' % cstr(m.op))
        c.append('                .preset = %s,' % ('preset_' + m.member if m.preset else 'NULL'))
        c.append('                .in = %s, .n_in = %s,' % tuple(arr('in', m, m.ins).split(', ')))
        c.append('                .json_in = %s, .n_json_in = %s,' % tuple(arr('json', m, m.json_ins).split(', ')))
        c.append('                .out = %s, .n_out = %s,' % tuple(arr('out', m, m.outs).split(', ')))
        c.append('                .echo = %s, .n_echo = %s,' % tuple(arr('echo', m, m.echo).split(', ')))
        c.append('                .flags = %s,' % flags)
        c.append('                .errors = %s,' % cstr(' '.join(m.errors)))
        c.append('        },')
    c.append('};')
    c.append('const unsigned op_n_methods = G_N_ELEMENTS(op_methods);\n')

    index = {m.member: i for i, m in enumerate(methods)}

    def lookup(fn, pairs):
        c.append('const OpMethod *%s(const char *name) {' % fn)
        c.append('        static const struct { const char *name; unsigned index; } sorted[] = {')
        for name, i in sorted(pairs):
            c.append('                { %s, %d },' % (cstr(name), i))
        c.append('        };')
        c.append('        /* A client sends runs of one method: the last one found is compared first. */')
        c.append('        static size_t last = G_N_ELEMENTS(sorted);')
        c.append('        size_t lo = 0, hi = G_N_ELEMENTS(sorted);\n')
        c.append('        if (last < G_N_ELEMENTS(sorted) && strcmp(name, sorted[last].name) == 0)')
        c.append('                return &op_methods[sorted[last].index];')
        c.append('        while (lo < hi) {')
        c.append('                size_t mid = (lo + hi) / 2;')
        c.append('                int d = strcmp(name, sorted[mid].name);\n')
        c.append('                if (d == 0) {')
        c.append('                        last = mid;')
        c.append('                        return &op_methods[sorted[mid].index];')
        c.append('                }')
        c.append('                if (d < 0)')
        c.append('                        hi = mid;')
        c.append('                else')
        c.append('                        lo = mid + 1;')
        c.append('        }')
        c.append('        return NULL;')
        c.append('}\n')
    lookup('op_method_by_dbus', [(m.member, index[m.member]) for m in methods])
    lookup('op_method_by_jsonrpc', [(m.jsonrpc, index[m.member]) for m in methods if m.primary])

    # rpc.describe, whole, as text: the table does not change at run time.
    import json
    desc = []
    for name in sorted(by_json, key=lambda n: index[[m for m in by_json[n] if m.primary][0].member]):
        best = [m for m in by_json[name] if m.primary][0]
        desc.append({'name': name, 'params': [p.name for p in best.json_ins],
                     'optional': [p.name for p in best.json_ins if p.default is not None],
                     'dbus': [t.member for t in by_json[name]], 'fifo': best.fifo,
                     'durable': best.durable, 'deferred': best.deferred,
                     'result': [p.name for p in best.outs], 'errors': best.errors})
    desc.append({'name': 'rpc.describe', 'params': [], 'optional': [], 'dbus': ['Introspect'],
                 'fifo': False, 'durable': False, 'deferred': False, 'result': ['methods', 'notifications'],
                 'errors': []})
    notes = []
    for _, _, n in signals:
        if n and n not in notes:
            notes.append(n)
    text = json.dumps({'methods': desc, 'notifications': notes}, separators=(',', ':'))
    c.append('const char op_describe_json[] = %s;\n' % cstr(text))
    c.append('const OpNotification op_notifications[] = {')
    for member, args, n in signals:
        c.append('        { %s, %s },' % (cstr(member), cstr(n)))
    c.append('};')
    c.append('const unsigned op_n_notifications = G_N_ELEMENTS(op_notifications);\n')

    # op_result_clear: the members that own memory.
    c.append('void op_result_clear(OpResult *out) {')
    seen = set()
    for m in methods:
        for p in m.outs:
            if p.name in seen:
                continue
            seen.add(p.name)
            if p.type == 'OP_TYPE_ROWS':
                c.append('        g_clear_pointer(&out->%s, g_array_unref);' % p.name)
            elif p.type == 'OP_TYPE_DICT':
                c.append('        g_clear_pointer(&out->%s, g_variant_unref);' % p.name)
    c.append('}')
    with open(os.path.join(outdir, 'ops-table.c'), 'w') as f:
        f.write('\n'.join(c) + '\n')

    t = ['/* Generated by src/ops/ops-gen.py from the interface XML: do not edit. */',
         '#include "ops-table.h"\n', 'const OpHandler op_handlers[] = {']
    t += ['        op_%s,         /* %s */' % (m.op, m.member) for m in methods]
    t.append('};')
    with open(os.path.join(outdir, 'ops-handlers-table.c'), 'w') as f:
        f.write('\n'.join(t) + '\n')


def write_vtable(outdir, methods, signals, props):
    v = []
    v.append('/* Generated by src/ops/ops-gen.py from the interface XML: do not edit. */')
    v.append('#include "dbus/dbus-vtable.h"\n')
    v.append('const sd_bus_vtable dbus_vtable[] = {')
    v.append('        SD_BUS_VTABLE_START(0),')

    def names(params):
        return ' '.join('SD_BUS_PARAM(%s)' % p for p in params) or '""'
    for m in methods:
        ins = [(p.dbus_sig, p.dbus_name) for p in m.ins]
        outs = [(p.dbus_sig, p.dbus_name) for p in m.outs]
        v.append('        SD_BUS_METHOD_WITH_NAMES(%s, %s, %s, %s, %s, dbus_vtable_method, 0),'
                 % (cstr(m.member), cstr(''.join(s for s, _ in ins)), names([n for _, n in ins]),
                    cstr(''.join(s for s, _ in outs)), names([n for _, n in outs])))
    for member, args, _ in signals:
        v.append('        SD_BUS_SIGNAL_WITH_NAMES(%s, %s, %s, 0),'
                 % (cstr(member), cstr(''.join(t for _, t in args)), names([n for n, _ in args])))
    flags = {'const': 'SD_BUS_VTABLE_PROPERTY_CONST', 'true': 'SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE',
             'false': '0', 'invalidates': 'SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION'}
    for name, sig, emits, info in props:
        v.append('        SD_BUS_PROPERTY(%s, %s, dbus_vtable_property, 0, %s),'
                 % (cstr(name), cstr(sig), flags[emits]))
    v.append('        SD_BUS_VTABLE_END')
    v.append('};\n')
    v.append('const DbusPropertyInfo dbus_properties[] = {')
    for name, sig, emits, info in props:
        v.append('        { %s, %s },' % (cstr(name), cstr(info)))
    v.append('        { NULL, NULL }')
    v.append('};')
    with open(os.path.join(outdir, 'dbus-vtable.c'), 'w') as f:
        f.write('\n'.join(v) + '\n')


if __name__ == '__main__':
    main()
