#!/usr/bin/env node
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// switchboard-client.js: a small client for the switchboard hub's JSON-RPC
// socket, using only Node's `net` module. Copy it into your project, or
// require it.
//
// The protocol (docs/protocol.md): each frame is a 4-byte big-endian length
// and that many bytes of JSON-RPC 2.0. Requests get responses (call()
// returns a Promise); subscriptions and watches send notifications
// ("message", "key_changed", "gap") on the same connection, handed to
// onNotification(method, params).
//
//   const { SwitchboardClient } = require('./switchboard-client.js');
//   const hub = await SwitchboardClient.connect();
//   hub.onNotification = (method, params) => console.log(method, params);
//   await hub.subscribe('sensors.>');
//   await hub.publish('sensors.kitchen.temp', '21.5');
//
// Run it to see a short demo against the running hub:
//   node switchboard-client.js [SOCKET]

'use strict';

const net = require('net');

function defaultSocketPath() {
    if (process.env.SWITCHBOARD_SOCKET)
        return process.env.SWITCHBOARD_SOCKET;
    const runtime = process.env.XDG_RUNTIME_DIR || `/run/user/${process.getuid()}`;
    return `${runtime}/switchboard/socket`;
}

class SwitchboardError extends Error {
    constructor(error) {
        const name = error.data && error.data.name;
        super(`${error.message} (${error.code}${name ? ', ' + name : ''})`);
        this.code = error.code;
        this.name = 'SwitchboardError';
        this.dbusName = name;
    }
}

class SwitchboardClient {
    constructor(socket) {
        this.socket = socket;
        this.buf = Buffer.alloc(0);
        this.nextId = 1;
        this.pending = new Map();       // id -> {resolve, reject}
        this.onNotification = () => {};
        socket.on('data', (chunk) => this._onData(chunk));
        socket.on('close', () => this._failAll(new Error('the hub closed the connection')));
        socket.on('error', (err) => this._failAll(err));
    }

    static connect(path = defaultSocketPath()) {
        return new Promise((resolve, reject) => {
            const socket = net.createConnection(path);
            socket.once('connect', () => {
                socket.removeListener('error', reject);
                resolve(new SwitchboardClient(socket));
            });
            socket.once('error', reject);
        });
    }

    close() {
        this.socket.end();
    }

    _failAll(err) {
        for (const { reject } of this.pending.values())
            reject(err);
        this.pending.clear();
    }

    _send(obj) {
        const body = Buffer.from(JSON.stringify(obj), 'utf8');
        const header = Buffer.alloc(4);
        header.writeUInt32BE(body.length, 0);
        this.socket.write(Buffer.concat([header, body]));
    }

    _onData(chunk) {
        this.buf = Buffer.concat([this.buf, chunk]);
        while (this.buf.length >= 4) {
            const n = this.buf.readUInt32BE(0);
            if (this.buf.length < 4 + n)
                break;
            const msg = JSON.parse(this.buf.subarray(4, 4 + n).toString('utf8'));
            this.buf = this.buf.subarray(4 + n);
            this._onMessage(msg);
        }
    }

    _onMessage(msg) {
        if (!Array.isArray(msg) && msg.method !== undefined && msg.id === undefined) {
            this.onNotification(msg.method, msg.params);
            return;
        }
        const waiter = this.pending.get(msg.id);
        if (!waiter)
            return;
        this.pending.delete(msg.id);
        if (msg.error)
            waiter.reject(new SwitchboardError(msg.error));
        else
            waiter.resolve(msg.result);
    }

    // Send a request; the Promise resolves with the result or rejects with a SwitchboardError.
    call(method, params) {
        const id = this.nextId++;
        const req = { jsonrpc: '2.0', id, method };
        if (params !== undefined)
            req.params = params;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            this._send(req);
        });
    }

    // Send a notification: no response, not even an error.
    notify(method, params) {
        const req = { jsonrpc: '2.0', method };
        if (params !== undefined)
            req.params = params;
        this._send(req);
    }

    static _bytesParam(name, data) {
        return typeof data === 'string' ? { [name]: data } : { [name + '_base64']: Buffer.from(data).toString('base64') };
    }

    // The payload (or value) of a notification: a string for text, a Buffer otherwise.
    static payloadOf(params, name = 'payload') {
        return name in params ? params[name] : Buffer.from(params[name + '_base64'], 'base64');
    }

    async publish(topic, payload, retain = false) {
        return (await this.call('publish', { topic, retain, ...SwitchboardClient._bytesParam('payload', payload) })).seq;
    }

    async subscribe(pattern, withRetained = false) {
        return (await this.call('subscribe', { pattern, with_retained: withRetained })).id;
    }

    async unsubscribe(id) {
        await this.call('unsubscribe', { id });
    }

    async set(key, value) {
        return (await this.call('set', { key, ...SwitchboardClient._bytesParam('value', value) })).revision;
    }

    async get(key) {
        const r = await this.call('get', { key });
        return { value: SwitchboardClient.payloadOf(r, 'value'), revision: r.revision };
    }

    async delete(key) {
        return (await this.call('delete', { key })).existed;
    }

    async watch(prefix = '') {
        return (await this.call('watch', { prefix })).id;
    }

    info() {
        return this.call('hub.info');
    }
}

// Notifications as a queue, for the demo's step-by-step output.
function notificationQueue(client) {
    const queued = [];
    const waiting = [];
    client.onNotification = (method, params) => {
        if (waiting.length)
            waiting.shift()({ method, params });
        else
            queued.push({ method, params });
    };
    return (timeoutMs = 10000) => {
        if (queued.length)
            return Promise.resolve(queued.shift());
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no notification from the hub')), timeoutMs);
            waiting.push((n) => { clearTimeout(timer); resolve(n); });
        });
    };
}

async function demo(path) {
    const hub = await SwitchboardClient.connect(path);
    const next = notificationQueue(hub);
    const info = await hub.info();
    console.log(`connected to hub ${info.version} (${info.clients} clients)`);
    const sub = await hub.subscribe('demo.>');
    console.log(`subscribed to demo.> as ${sub}`);
    let seq = await hub.publish('demo.greeting', 'hello from node');
    console.log(`published demo.greeting seq ${seq}`);
    let n = await next();
    console.log(`${n.method} ${n.params.topic}: ${SwitchboardClient.payloadOf(n.params)} ` +
                `(seq ${n.params.seq}, from ${n.params.sender.transport})`);
    seq = await hub.publish('demo.binary', Buffer.from([0x00, 0xff, 0x10]));
    n = await next();
    console.log(`${n.method} ${n.params.topic}: ${SwitchboardClient.payloadOf(n.params).toString('hex')} bytes ` +
                `(seq ${n.params.seq})`);
    await hub.watch('demo.');
    const rev = await hub.set('demo.counter', 'node');
    console.log(`set demo.counter revision ${rev}`);
    n = await next();
    console.log(`${n.method} ${n.params.key} = ${SwitchboardClient.payloadOf(n.params, 'value')} ` +
                `(revision ${n.params.revision})`);
    const got = await hub.get('demo.counter');
    console.log(`get demo.counter = ${got.value} (revision ${got.revision})`);
    try {
        await hub.publish('demo..bad', 'x');
    } catch (e) {
        console.log(`error ${e.code} ${e.dbusName}`);
    }
    hub.close();
}

module.exports = { SwitchboardClient, SwitchboardError, defaultSocketPath };

if (require.main === module) {
    demo(process.argv[2]).catch((e) => {
        console.error(`switchboard-client: ${e.message}`);
        process.exit(1);
    });
}
