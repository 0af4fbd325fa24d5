#!/usr/bin/env node
// station.js: a scriptable OCPP charge station for integration tests.
//
// It wraps one ocpp-rpc RPCClient in strictMode, so every frame in both
// directions is validated against the official OCA JSON schemas. It reads one
// JSON command per line on stdin and writes one JSON object per line on stdout.
//
// Commands (every command may carry "id"; its reply carries the same id):
//   {"id":1,"cmd":"connect","url":"ws://host:port/ocpp","identity":"CP1",
//    "password":"secret" | "passwordHex":"414141...",  (optional; hex = raw bytes)
//    "protocols":["ocpp1.6"], "callTimeoutMs":10000, "pingIntervalMs":0,
//    "strict":true, "headers":{},
//    "tls":{"ca":"<PEM>","cert":"<PEM>","key":"<PEM>"}}   (wss://: trusted CA, client certificate)
//   {"id":2,"cmd":"call","action":"Heartbeat","payload":{},"timeoutMs":10000}
//   {"id":3,"cmd":"respond","action":"Reset"|"*","result":{...}}
//   {"id":4,"cmd":"respond","action":"Reset","error":{"code":"NotSupported","description":"..","details":{}}}
//   {"id":5,"cmd":"respond","action":"Reset","never":true}
//   {"id":6,"cmd":"respond","action":"Reset","clear":true}
//   {"id":10,"cmd":"deviceModel","variables":{"OCPPCommCtrlr.HeartbeatInterval":"300",...}}
//     answers 2.0.1 GetVariables from this device model (keys as evroam's VariableRef.Key
//     writes them, without EVSE or attribute type); a request with more variables than
//     DeviceDataCtrlr.ItemsPerMessage[GetVariables] says gets OccurrenceConstraintViolation,
//     as real stations answer.
//   {"id":7,"cmd":"sendRaw","text":"[2,\"x\""}
//   {"id":8,"cmd":"close","code":1000,"reason":"bye"}
//   {"id":9,"cmd":"exit"}
//
// Output lines:
//   {"type":"reply","id":N,"ok":true,"result":...}
//   {"type":"reply","id":N,"ok":false,"error":{"code":..,"message":..,"details":..,"httpStatus":..}}
//   {"type":"event","event":"message","outbound":bool,"text":"<raw frame>"}
//   {"type":"event","event":"call","action":..,"messageId":..,"params":..}   (a CALL from the CSMS)
//   {"type":"event","event":"strictValidationFailure","method":..,"outbound":bool,"isCall":bool,"error":..}
//   {"type":"event","event":"badMessage","text":..,"error":..}
//   {"type":"event","event":"open"|"close"|"disconnect", ...}
//   {"type":"event","event":"pong","rtt":ms}   (the CSMS answered the station's ping)
//   {"type":"fatal","error":..}
'use strict';

const readline = require('readline');
const { RPCClient, createRPCError } = require('ocpp-rpc');

const STRICT_CAPABLE = ['ocpp1.6', 'ocpp2.0.1', 'ocpp2.1'];

let client = null;
const responders = new Map(); // action or '*' -> {result} | {error} | {never}

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function errObj(e) {
  if (!e) return null;
  return {
    code: e.rpcErrorCode || e.code || e.name || '',
    message: e.rpcErrorMessage || e.message || String(e),
    details: e.details,
    httpStatus: e.response && e.response.statusCode,
  };
}

let deviceModel = null; // key -> value, for GetVariables

function variableKey({ component, variable }) {
  const inst = (x) => (x && x.instance ? `[${x.instance}]` : '');
  return `${component.name}${inst(component)}.${variable.name}${inst(variable)}`;
}

function answerGetVariables(params) {
  const limit = Number(deviceModel['DeviceDataCtrlr.ItemsPerMessage[GetVariables]'] || Infinity);
  if (params.getVariableData.length > limit) {
    throw createRPCError('OccurrenceConstraintViolation', `at most ${limit} variables per GetVariables`);
  }
  return {
    getVariableResult: params.getVariableData.map((d) => {
      const value = deviceModel[variableKey(d)];
      const r = { component: d.component, variable: d.variable };
      if (value === undefined) return { ...r, attributeStatus: 'UnknownVariable' };
      return { ...r, attributeStatus: 'Accepted', attributeValue: value };
    }),
  };
}

function handleIncoming({ method, params, messageId }) {
  out({ type: 'event', event: 'call', action: method, messageId, params });
  if (method === 'GetVariables' && deviceModel && !responders.has(method)) {
    return answerGetVariables(params);
  }
  const r = responders.get(method) || responders.get('*');
  if (!r) {
    throw createRPCError('NotImplemented', `no test handler for ${method}`);
  }
  if (r.never) {
    return new Promise(() => {});
  }
  if (r.error) {
    throw createRPCError(r.error.code, r.error.description || '', r.error.details || {});
  }
  return r.result === undefined ? {} : r.result;
}

async function connect(c) {
  if (client) throw new Error('already connected');
  const protocols = c.protocols || ['ocpp1.6'];
  const strict = c.strict === false ? false : protocols.filter(p => STRICT_CAPABLE.includes(p));
  let password;
  if (c.passwordHex !== undefined) password = Buffer.from(c.passwordHex, 'hex');
  else if (c.password !== undefined && c.password !== null) password = c.password;
  const cli = new RPCClient({
    endpoint: c.url,
    identity: c.identity,
    password,
    protocols,
    headers: c.headers || {},
    strictMode: strict && strict.length ? strict : false,
    callTimeoutMs: c.callTimeoutMs || 10000,
    pingIntervalMs: c.pingIntervalMs || 0,
    reconnect: false,
    respondWithDetailedErrors: false,
    // TLS for wss://: the CA that signed the server's certificate, and the station's client
    // certificate and key (security profile 3), passed to the ws library's TLS options.
    wsOpts: c.tls ? { ca: c.tls.ca, cert: c.tls.cert, key: c.tls.key } : {},
  });
  // An answer to the station's own ping (pingIntervalMs).
  cli.on('ping', ({ rtt }) => out({ type: 'event', event: 'pong', rtt }));
  cli.on('message', ({ message, outbound }) =>
    out({ type: 'event', event: 'message', outbound, text: message.toString() }));
  cli.on('strictValidationFailure', e =>
    out({ type: 'event', event: 'strictValidationFailure', method: e.method, messageId: e.messageId,
      outbound: e.outbound, isCall: e.isCall, params: e.params, result: e.result, error: errObj(e.error) }));
  cli.on('badMessage', e =>
    out({ type: 'event', event: 'badMessage', text: e.buffer ? e.buffer.toString() : '',
      error: errObj(e.error), response: e.response }));
  cli.on('open', () => out({ type: 'event', event: 'open', protocol: cli.protocol }));
  cli.on('close', e => out({ type: 'event', event: 'close', code: e && e.code, reason: e && e.reason ? String(e.reason) : '' }));
  cli.on('disconnect', e => out({ type: 'event', event: 'disconnect', code: e && e.code, reason: e && e.reason ? String(e.reason) : '' }));
  cli.handle(handleIncoming);
  client = cli;
  try {
    await cli.connect();
  } catch (e) {
    client = null;
    throw e;
  }
  return { protocol: cli.protocol };
}

async function run(cmd) {
  switch (cmd.cmd) {
    case 'connect':
      return connect(cmd);
    case 'call':
      if (!client) throw new Error('not connected');
      return client.call(cmd.action, cmd.payload === undefined ? {} : cmd.payload,
        cmd.timeoutMs ? { callTimeoutMs: cmd.timeoutMs } : {});
    case 'respond':
      if (cmd.clear) responders.delete(cmd.action);
      else responders.set(cmd.action, { result: cmd.result, error: cmd.error, never: !!cmd.never });
      return null;
    case 'deviceModel':
      deviceModel = cmd.variables;
      return null;
    case 'sendRaw':
      if (!client) throw new Error('not connected');
      client.sendRaw(cmd.text);
      return null;
    case 'close': {
      if (!client) return null;
      const cli = client;
      client = null;
      return cli.close({ code: cmd.code || 1000, reason: cmd.reason || '', force: !!cmd.force });
    }
    case 'exit':
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', line => {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    out({ type: 'fatal', error: `bad command line: ${e.message}` });
    return;
  }
  // Commands run concurrently; replies are matched by id.
  Promise.resolve()
    .then(() => run(cmd))
    .then(result => out({ type: 'reply', id: cmd.id, ok: true, result: result === undefined ? null : result }))
    .catch(e => out({ type: 'reply', id: cmd.id, ok: false, error: errObj(e) }));
});
rl.on('close', () => process.exit(0));
process.on('unhandledRejection', e => out({ type: 'fatal', error: String(e && e.stack || e) }));
