# SPDX-License-Identifier: LGPL-2.1-or-later
#
# JSON-RPC 2.0 conformance over the hub's Unix socket: the examples of the
# specification's "Examples" section (https://www.jsonrpc.org/specification#examples),
# adapted to the hub's methods, plus id echoing, invalid params and the hub's
# own error codes (docs/protocol.md). "No reply" is proved by sending a
# follow-up request and seeing that its response is the very next frame.

import sbrpc
from sbrpc import Conn, check, check_eq, check_error, log

conn = None


def setup():
    global conn
    # A small subscription quota makes LimitExceeded cheap to reach.
    sbrpc.write_config('[limits]\nmax-subscriptions=4\n')
    sbrpc.activate()
    conn = Conn(label='conformance')


def next_is_reply_to_probe(what):
    """Prove that nothing was sent in reply to what came before: a probe's
    response must be the next frame."""
    conn.send({'jsonrpc': '2.0', 'id': 'probe', 'method': 'hub.info'})
    m = conn.recv()
    check(isinstance(m, dict) and m.get('id') == 'probe' and 'result' in m,
          '%s got a reply (expected none): the next frame is %r' % (what, m))


def test_positional_params():
    # --> {"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}
    r = conn.request('publish', ['spec.positional', 'forty-two'], id=1)
    check('result' in r and isinstance(r['result'].get('seq'), int), 'publish by position: %r' % r)
    r2 = conn.request('publish', ['spec.positional', 'twenty-three'], id=2)
    check_eq(r2['result']['seq'], r['result']['seq'] + 1, 'seq of the next publish')
    # Trailing optional params may be left out; given ones are honoured.
    r3 = conn.request('publish', ['spec.positional', 'kept', True], id=3)
    check('result' in r3, 'publish with retain by position: %r' % r3)
    sub = conn.call('subscribe', ['spec.positional', True])
    m = conn.next_note('message')
    check_eq((m['params']['subscription'], m['params']['payload'], m['params']['retained']),
             (sub['id'], 'kept', True), 'retained message replayed after subscribe by position')
    conn.call('unsubscribe', [sub['id']])


def test_named_params():
    # --> {"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}
    # Order of members does not matter.
    a = conn.call('set', {'key': 'spec.named', 'value': 'one'})
    b = conn.call('set', {'value': 'two', 'key': 'spec.named'})
    check_eq(b['revision'], a['revision'] + 1, 'revision after a set with members in another order')
    got = conn.call('get', {'key': 'spec.named'})
    check_eq((got['key'], got['value'], got['revision']), ('spec.named', 'two', b['revision']), 'get')
    got = conn.call('get', ['spec.named'])
    check_eq(got['value'], 'two', 'get by position')


def test_notification_gets_no_reply():
    # --> {"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}
    # --> {"jsonrpc": "2.0", "method": "foobar"}
    before = conn.call('get', {'key': 'spec.named'})['revision']
    conn.notify('set', {'key': 'spec.named', 'value': 'by notification'})
    conn.notify('foobar')
    conn.notify('publish', {'topic': 'a..b', 'payload': 'an error: still no reply'})
    conn.notify('set', [1, 2, 3, 4, 5])
    next_is_reply_to_probe('notifications (a good one, an unknown method, two failing ones)')
    got = conn.call('get', {'key': 'spec.named'})
    check_eq((got['value'], got['revision']), ('by notification', before + 1),
             'the notification was carried out')


def test_method_not_found():
    # --> {"jsonrpc": "2.0", "method": "foobar", "id": "1"}
    # <-- {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}
    r = conn.request('foobar', id='1')
    check_eq(r.get('id'), '1', 'id')
    check_error(r.get('error'), -32601, mentions='foobar', what='foobar')
    # Names differ by case or by a prefix only: still not found.
    conn.call_error('Publish', ['a.b', 'x'], code=-32601)
    conn.call_error('rpc.', code=-32601)


def test_invalid_json():
    # --> {"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]
    # <-- {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}
    conn.send_raw(sbrpc.frame(b'{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]'))
    r = conn.recv()
    check_eq(r.get('id', 'missing'), None, 'id of a parse error')
    check_error(r.get('error'), -32700, what='invalid JSON')
    # Text after the value, truncated JSON, invalid UTF-8 (also overlong forms and
    # surrogates), a NUL: parse errors too.
    for body in (b'{"jsonrpc":"2.0","id":1,"method":"hub.info"} x', b'{"jsonrpc":"2.0","id":1,',
                 b'{"jsonrpc":"2.0","id":1,"method":"\xff"}', b'\x00', b'nul',
                 b'{"jsonrpc":"2.0","id":1,"method":"publish","params":["a.b","\xc0\xaf"]}',
                 b'{"jsonrpc":"2.0","id":1,"method":"publish","params":["a.b","\xed\xa0\x80"]}'):
        conn.send_raw(sbrpc.frame(body))
        r = conn.recv()
        check_eq(r.get('id', 'missing'), None, 'id of a parse error for %r' % body)
        check_error(r.get('error'), -32700, what='parse error for %r' % body)
    next_is_reply_to_probe('the parse errors')


def test_invalid_request_object():
    # --> {"jsonrpc": "2.0", "method": 1, "params": "bar"}
    # <-- {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
    conn.send({'jsonrpc': '2.0', 'method': 1, 'params': 'bar'})
    r = conn.recv()
    check_eq(r.get('id', 'missing'), None, 'id')
    check_error(r.get('error'), -32600, what='method 1')
    # Other shapes: wrong version, no version, params a string, id an object or a boolean.
    cases = [
        ({'jsonrpc': '1.0', 'method': 'hub.info', 'id': 7}, 7),
        ({'method': 'hub.info', 'id': 8}, 8),
        ({'jsonrpc': '2.0', 'method': 'hub.info', 'params': 'bar', 'id': 9}, 9),
        ({'jsonrpc': '2.0', 'id': 10}, 10),
        ({'jsonrpc': '2.0', 'method': 'hub.info', 'id': {'a': 1}}, None),
        ({'jsonrpc': '2.0', 'method': 'hub.info', 'id': True}, None),
        ({'jsonrpc': '2.0', 'method': 'hub.info', 'id': [1]}, None),
        ('"just a string"', None),
        ('42', None),
        ('null', None),
    ]
    for req, want_id in cases:
        conn.send(req)
        r = conn.recv()
        check(isinstance(r, dict), 'response to %r: %r' % (req, r))
        check_eq(r.get('id', 'missing'), want_id, 'id of the response to %r' % (req,))
        check_error(r.get('error'), -32600, what=repr(req))


def test_batch_invalid_json():
    # --> [ {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method" ]
    # <-- {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}
    conn.send_raw(sbrpc.frame(b'[{"jsonrpc": "2.0", "method": "hub.info", "params": [], "id": "1"},'
                              b'{"jsonrpc": "2.0", "method" ]'))
    r = conn.recv()
    check(isinstance(r, dict), 'a batch that does not parse gets one response object, got %r' % r)
    check_eq(r.get('id', 'missing'), None, 'id')
    check_error(r.get('error'), -32700, what='batch with invalid JSON')


def test_empty_batch():
    # --> []
    # <-- {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}
    conn.send_raw(sbrpc.frame(b'[]'))
    r = conn.recv()
    check(isinstance(r, dict), 'the empty batch gets one response object, not an array: %r' % r)
    check_eq(r.get('id', 'missing'), None, 'id')
    check_error(r.get('error'), -32600, what='[]')


def test_batch_of_one_non_request():
    # --> [1]
    # <-- [ {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null} ]
    conn.send_raw(sbrpc.frame(b'[1]'))
    r = conn.recv()
    check(isinstance(r, list) and len(r) == 1, '[1]: expected an array of one response, got %r' % r)
    check_eq(r[0].get('id', 'missing'), None, 'id')
    check_error(r[0].get('error'), -32600, what='[1]')


def test_batch_of_non_requests():
    # --> [1,2,3]
    # <-- three Invalid Request errors with id null
    conn.send_raw(sbrpc.frame(b'[1,2,3]'))
    r = conn.recv()
    check(isinstance(r, list) and len(r) == 3, '[1,2,3]: expected an array of three responses, got %r' % r)
    for e in r:
        check_eq(e.get('id', 'missing'), None, 'id')
        check_error(e.get('error'), -32600, what='[1,2,3]')


def test_mixed_batch():
    # --> [
    #   {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
    #   {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
    #   {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
    #   {"foo": "boo"},
    #   {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
    #   {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    # ]
    batch = [
        {'jsonrpc': '2.0', 'method': 'set', 'params': ['spec.batch', 'one'], 'id': '1'},
        {'jsonrpc': '2.0', 'method': 'set', 'params': ['spec.batch.note', 'hello']},
        {'jsonrpc': '2.0', 'method': 'get', 'params': {'key': 'spec.batch'}, 'id': '2'},
        {'foo': 'boo'},
        {'jsonrpc': '2.0', 'method': 'foo.get', 'params': {'name': 'myself'}, 'id': '5'},
        {'jsonrpc': '2.0', 'method': 'hub.info', 'id': '9'},
    ]
    conn.send(batch)
    r = conn.recv()
    check(isinstance(r, list), 'a batch gets an array, got %r' % r)
    check_eq(len(r), 5, 'responses to a batch of 6 with one notification (%r)' % r)
    by_id = {}
    for x in r:
        check(x.get('jsonrpc') == '2.0' and 'id' in x, 'batch response %r' % x)
        check(x['id'] not in by_id, 'two responses with id %r' % x['id'])
        by_id[x['id']] = x
    check_eq(sorted(by_id, key=str), sorted(['1', '2', None, '5', '9'], key=str), 'ids of the batch responses')
    check('result' in by_id['1'] and isinstance(by_id['1']['result']['revision'], int), 'set: %r' % by_id['1'])
    check_eq(by_id['2'].get('result', {}).get('value'), 'one', 'get after set in the same batch')
    check_error(by_id[None].get('error'), -32600, what='{"foo": "boo"}')
    check_error(by_id['5'].get('error'), -32601, mentions='foo.get', what='foo.get')
    check('version' in by_id['9'].get('result', {}), 'hub.info in a batch: %r' % by_id['9'])
    check_eq(conn.call('get', ['spec.batch.note'])['value'], 'hello', 'the notification in the batch was done')
    next_is_reply_to_probe('the mixed batch (one array only)')


def test_all_notification_batch():
    # --> [ {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
    #       {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]} ]
    # <-- //Nothing is returned for all notification batches
    conn.send([{'jsonrpc': '2.0', 'method': 'set', 'params': ['spec.allnote', 'x']},
               {'jsonrpc': '2.0', 'method': 'notify_hello', 'params': [7]},
               {'jsonrpc': '2.0', 'method': 'publish', 'params': ['a..b', 'bad topic']}])
    next_is_reply_to_probe('a batch of notifications only')
    check_eq(conn.call('get', ['spec.allnote'])['value'], 'x', 'the notification in the batch was done')


def test_ids_echoed_exactly():
    ids = ['1', '', 'x"y\\z/\u00e9\u2603\u0001\n', 'a' * 300, 0, -1, 42, 2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63,
           1.5, -0.25, None]
    for i in ids:
        conn.send({'jsonrpc': '2.0', 'id': i, 'method': 'hub.info'})
        r = conn.recv()
        check('id' in r, 'no id in the response to id %r: %r' % (i, r))
        check(r['id'] == i and type(r['id']) is type(i), 'id %r came back as %r' % (i, r['id']))
        check('result' in r, 'hub.info with id %r: %r' % (i, r))
    # Errors echo the id too.
    for i in ('e', 17, None):
        conn.send({'jsonrpc': '2.0', 'id': i, 'method': 'nope'})
        r = conn.recv()
        check(r.get('id', 'missing') == i and type(r['id']) is type(i), 'error response id %r: %r' % (i, r))
        check_error(r.get('error'), -32601)


def test_invalid_params():
    cases = [
        ('publish', {'topic': 'a.b'}, 'payload'),
        ('publish', {'topic': 'a.b', 'payload': 'x', 'payload_base64': 'eA=='}, 'payload'),
        ('publish', {'topic': 5, 'payload': 'x'}, 'topic'),
        ('publish', {'payload': 'x'}, 'topic'),
        ('publish', {'topic': 'a.b', 'payload': 'x', 'retain': 'yes'}, 'retain'),
        ('publish', {'topic': 'a.b', 'payload_base64': '!!!'}, 'payload_base64'),
        ('publish', {'topic': 'a.b', 'payload_base64': 'eA'}, 'payload_base64'),
        ('publish', ['a.b'], 'payload'),
        ('subscribe', {}, 'pattern'),
        ('subscribe', {'pattern': 'a.b', 'with_retained': 1}, 'with_retained'),
        ('unsubscribe', {}, 'id'),
        ('unsubscribe', {'id': -1}, 'id'),
        ('unsubscribe', {'id': 'three'}, 'id'),
        ('unsubscribe', {'id': 1.5}, 'id'),
        ('set', {'key': 'k'}, 'value'),
        ('set', {'key': 'k\u0000x', 'value': 'v'}, 'key'),
        ('set_if', {'key': 'k', 'value': 'v'}, 'expected_revision'),
        ('set_if', {'key': 'k', 'value': 'v', 'expected_revision': -1}, 'expected_revision'),
        ('get', [None], 'key'),
        ('watch', {'prefix': 3}, 'prefix'),
        ('list', {'prefix': ['a']}, 'prefix'),
    ]
    for method, params, name in cases:
        conn.call_error(method, params, code=-32602, mentions="'%s'" % name)


def test_application_errors():
    # Each of the hub's own errors: code and data.name as in docs/protocol.md.
    conn.call_error('publish', {'topic': 'a..b', 'payload': 'x'}, -32001, 'InvalidTopic', 'a..b')
    conn.call_error('publish', {'topic': 'a.*', 'payload': 'x'}, -32001, 'InvalidTopic')
    conn.call_error('subscribe', {'pattern': 'a.>.b'}, -32002, 'InvalidPattern', 'a.>.b')
    conn.call_error('clear_retained', {'pattern': ''}, -32002, 'InvalidPattern')
    conn.call_error('set', {'key': '', 'value': 'x'}, -32003, 'InvalidKey')
    conn.call_error('set', {'key': 'tab\there', 'value': 'x'}, -32003, 'InvalidKey')
    conn.call_error('watch', {'prefix': 'bell\u0007'}, -32003, 'InvalidKey')
    conn.call_error('get', {'key': 'spec.no.such.key'}, -32004, 'NotFound', 'spec.no.such.key')
    conn.call_error('unsubscribe', {'id': 987654}, -32004, 'NotFound')
    conn.call_error('unwatch', {'id': 987654}, -32004, 'NotFound')
    rev = conn.call('set', {'key': 'spec.cas', 'value': 'a'})['revision']
    conn.call_error('set_if', {'key': 'spec.cas', 'value': 'b', 'expected_revision': rev + 5},
                    -32005, 'Conflict')
    conn.call_error('set_if', {'key': 'spec.cas', 'value': 'b', 'expected_revision': 0}, -32005, 'Conflict')
    check_eq(conn.call('set_if', ['spec.cas', 'b', rev])['revision'], rev + 1, 'set_if with the right revision')
    limits = conn.call('hub.info')['limits']
    conn.call_error('publish', {'topic': 'a.b', 'payload': 'x' * (limits['max-payload'] + 1)},
                    -32006, 'LimitExceeded')
    conn.call_error('publish', {'topic': 'a.' * limits['max-topic-tokens'] + 'b', 'payload': 'x'},
                    -32006, 'LimitExceeded')
    conn.call_error('set', {'key': 'k' * (limits['max-key-length'] + 1), 'value': 'x'}, -32006, 'LimitExceeded')
    ids = [conn.call('subscribe', ['spec.quota.%d' % i])['id'] for i in range(limits['max-subscriptions'])]
    e = conn.call_error('subscribe', ['spec.quota.over'], -32006, 'LimitExceeded')
    log('over quota: %s' % e['message'])
    for i in ids:
        conn.call('unsubscribe', {'id': i})
    # A batch carries the error of each member.
    conn.send([{'jsonrpc': '2.0', 'id': 1, 'method': 'get', 'params': ['spec.no.such.key']},
               {'jsonrpc': '2.0', 'id': 2, 'method': 'publish', 'params': ['a..b', 'x']}])
    r = conn.recv()
    check(isinstance(r, list) and len(r) == 2, 'batch of two errors: %r' % r)
    by_id = {x['id']: x for x in r}
    check_error(by_id[1]['error'], -32004, 'NotFound')
    check_error(by_id[2]['error'], -32001, 'InvalidTopic')


def test_rpc_describe_shape():
    d = conn.call('rpc.describe')
    names = [m['name'] for m in d['methods']]
    for want in ('publish', 'publish_retained', 'clear_retained', 'subscribe', 'unsubscribe', 'get', 'set',
                 'set_if', 'delete', 'list', 'watch', 'unwatch', 'hub.info', 'rpc.describe'):
        check(want in names, 'rpc.describe lacks %s: %r' % (want, names))
    check_eq(sorted(d['notifications']), ['gap', 'key_changed', 'message', 'request', 'traffic'], 'notifications')


if __name__ == '__main__':
    sbrpc.main([
        setup,
        test_positional_params,
        test_named_params,
        test_notification_gets_no_reply,
        test_method_not_found,
        test_invalid_json,
        test_invalid_request_object,
        test_batch_invalid_json,
        test_empty_batch,
        test_batch_of_one_non_request,
        test_batch_of_non_requests,
        test_mixed_batch,
        test_all_notification_batch,
        test_ids_echoed_exactly,
        test_invalid_params,
        test_application_errors,
        test_rpc_describe_shape,
    ])
