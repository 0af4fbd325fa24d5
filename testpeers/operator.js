#!/usr/bin/env node
// operator.js: a scriptable upstream operator (a CSMS) for the OCPP proxy's integration tests.
//
// It wraps ocpp-rpc's RPCServer in strictMode, so every frame evroam forwards to it (and
// every answer evroam relays back) is validated against the official OCA JSON schemas. It
// reads one JSON command per line on stdin and writes one JSON object per line on stdout,
// like station.js.
//
// Commands (every command may carry "id"; its reply carries the same id):
//   {"id":1,"cmd":"listen","port":0,"protocols":["ocpp1.6","ocpp2.0.1"],"password":"pw",
//    "tls":{"cert":"<PEM>","key":"<PEM>"}}
//     starts the server (port 0: any free port; the reply's result is {"port":N}); with
//     "password" only clients presenting it (Basic auth) are accepted, others get HTTP 401;
//     with "tls" it serves wss:// with that certificate.
//   {"id":2,"cmd":"respond","action":"Authorize"|"*","result":{...}}
//   {"id":3,"cmd":"respond","action":"StartTransaction","result":{...},"transactionIdFrom":5001}
//     answers StartTransaction with result plus transactionId 5001, 5002, ...
//   {"id":4,"cmd":"respond","action":"X","error":{"code":"..","description":".."}}
//   {"id":9,"cmd":"respond","action":"X","never":true}   (a slow operator: never answers)
//   {"id":5,"cmd":"call","identity":"CP1","action":"Reset","payload":{},"timeoutMs":10000}
//   {"id":6,"cmd":"sendRaw","identity":"CP1","text":"garbage"}
//   {"id":10,"cmd":"freeze","identity":"CP1"}
//     stops reading the link's socket without closing it: the operator answers nothing from
//     then on, pings included, as a host that went away behind a NAT would
//   {"id":7,"cmd":"down"}   closes every client and the server (the port is free again)
//   {"id":8,"cmd":"exit"}
//
// Output lines: replies as station.js writes them, and events:
//   {"type":"event","event":"call","identity":..,"action":..,"messageId":..,"params":..}
//   {"type":"event","event":"message","identity":..,"outbound":bool,"text":..}
//   {"type":"event","event":"client","identity":..,"protocol":..,"password":..}
//   {"type":"event","event":"refused","identity":..,"reason":..}
//   {"type":"event","event":"disconnect","identity":..}
//   {"type":"event","event":"strictValidationFailure",...}, {"type":"event","event":"badMessage",...}
'use strict';

const https = require('https');
const readline = require('readline');
const { RPCServer, createRPCError } = require('ocpp-rpc');

let server = null;
let httpServer = null;
const clients = new Map(); // identity -> client
const responders = new Map();
const counters = new Map(); // action -> next transaction id

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function errObj(e) {
  if (!e) return null;
  return { code: e.rpcErrorCode || e.code || e.name || '', message: e.rpcErrorMessage || e.message || String(e), details: e.details };
}

function handler(identity) {
  return ({ method, params, messageId }) => {
    out({ type: 'event', event: 'call', identity, action: method, messageId, params });
    const r = responders.get(method) || responders.get('*');
    if (!r) throw createRPCError('NotImplemented', `no test handler for ${method}`);
    if (r.never) return new Promise(() => {});
    if (r.error) throw createRPCError(r.error.code, r.error.description || '', r.error.details || {});
    const result = r.result === undefined ? {} : JSON.parse(JSON.stringify(r.result));
    if (r.transactionIdFrom !== undefined) {
      const next = counters.has(method) ? counters.get(method) : r.transactionIdFrom;
      counters.set(method, next + 1);
      result.transactionId = next;
    }
    return result;
  };
}

async function listen(c) {
  if (server) throw new Error('already listening');
  const protocols = c.protocols || ['ocpp1.6', 'ocpp2.0.1'];
  server = new RPCServer({ protocols, strictMode: protocols, respondWithDetailedErrors: false, callTimeoutMs: 10000 });
  server.auth((accept, reject, handshake) => {
    const given = handshake.password ? handshake.password.toString() : undefined;
    if (c.password !== undefined && given !== c.password) {
      out({ type: 'event', event: 'refused', identity: handshake.identity, reason: given ? 'wrong password' : 'no password' });
      reject(401, 'Unauthorized');
      return;
    }
    accept({ password: given });
  });
  server.on('client', (client) => {
    const identity = client.identity;
    clients.set(identity, client);
    out({ type: 'event', event: 'client', identity, protocol: client.protocol, password: client.session.password || null });
    client.on('message', ({ message, outbound }) => out({ type: 'event', event: 'message', identity, outbound, text: message.toString() }));
    client.on('strictValidationFailure', (e) => out({ type: 'event', event: 'strictValidationFailure', identity, method: e.method,
      messageId: e.messageId, outbound: e.outbound, isCall: e.isCall, params: e.params, result: e.result, error: errObj(e.error) }));
    client.on('badMessage', (e) => out({ type: 'event', event: 'badMessage', identity, text: e.buffer ? e.buffer.toString() : '', error: errObj(e.error) }));
    client.on('close', () => {
      if (clients.get(identity) === client) clients.delete(identity);
      out({ type: 'event', event: 'disconnect', identity });
    });
    client.handle(handler(identity));
  });
  if (c.tls) {
    httpServer = https.createServer({ cert: c.tls.cert, key: c.tls.key });
    httpServer.on('upgrade', server.handleUpgrade);
    await new Promise((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(c.port || 0, '127.0.0.1', resolve);
    });
  } else {
    httpServer = await server.listen(c.port || 0, '127.0.0.1');
  }
  return { port: httpServer.address().port };
}

function clientOf(identity) {
  const cli = clients.get(identity);
  if (!cli) throw new Error(`no client ${identity}`);
  return cli;
}

async function run(cmd) {
  switch (cmd.cmd) {
    case 'listen':
      return listen(cmd);
    case 'respond':
      if (cmd.clear) responders.delete(cmd.action);
      else responders.set(cmd.action, { result: cmd.result, error: cmd.error, never: !!cmd.never, transactionIdFrom: cmd.transactionIdFrom });
      return null;
    case 'call':
      return clientOf(cmd.identity).call(cmd.action, cmd.payload === undefined ? {} : cmd.payload,
        cmd.timeoutMs ? { callTimeoutMs: cmd.timeoutMs } : {});
    case 'sendRaw':
      clientOf(cmd.identity).sendRaw(cmd.text);
      return null;
    case 'freeze':
      // ocpp-rpc keeps its ws WebSocket in _ws, and ws its net.Socket in _socket.
      clientOf(cmd.identity)._ws._socket.pause();
      return null;
    case 'down': {
      if (!server) return null;
      const s = server;
      server = null;
      await s.close({ code: 1001, force: true });
      if (httpServer) await new Promise((resolve) => httpServer.close(() => resolve()));
      httpServer = null;
      clients.clear();
      return null;
    }
    case 'exit':
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    out({ type: 'fatal', error: `bad command line: ${e.message}` });
    return;
  }
  Promise.resolve()
    .then(() => run(cmd))
    .then((result) => out({ type: 'reply', id: cmd.id, ok: true, result: result === undefined ? null : result }))
    .catch((e) => out({ type: 'reply', id: cmd.id, ok: false, error: errObj(e) }));
});
rl.on('close', () => process.exit(0));
process.on('unhandledRejection', (e) => out({ type: 'fatal', error: String((e && e.stack) || e) }));
