// An MQTT.js subscriber over WebSocket with a persistent session, for dev.tether.knative ITs.
// Usage: node subscriber.js <ws-url> <client-id> <topic-filter> <session-expiry-s> <max-runtime-s>
// Connects with Clean Start 0 and the Session Expiry Interval, subscribes at QoS 1 on its first
// connection only, reconnects after every cut (MQTT.js's reconnectPeriod) and prints one JSON line
// per event on stdout: connect (with sessionPresent), subscribed, message (topic, payload, dup), close.
// Ends with DISCONNECT when stdin closes or reads "stop", or after max-runtime-s.
'use strict';
const mqtt = require('mqtt');
const readline = require('readline');

const [url, clientId, topic, sessionExpiry, maxRuntime] = process.argv.slice(2);
if (!maxRuntime) {
  process.stderr.write('usage: subscriber.js <ws-url> <client-id> <topic-filter> <session-expiry-s> <max-runtime-s>\n');
  process.exit(2);
}

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

const client = mqtt.connect(url, {
  protocolVersion: 5,
  clientId,
  clean: false,
  properties: { sessionExpiryInterval: Number(sessionExpiry), receiveMaximum: 10 },
  reconnectPeriod: 100,
  connectTimeout: 5000,
  resubscribe: false,
});

let subscribed = false;
client.on('connect', (connack) => {
  emit({ event: 'connect', sessionPresent: connack.sessionPresent === true });
  if (!subscribed) {
    subscribed = true;
    client.subscribe(topic, { qos: 1 }, (err, granted) => {
      if (err) {
        emit({ event: 'error', message: String(err) });
      } else {
        emit({ event: 'subscribed', qos: granted.map((g) => g.qos) });
      }
    });
  }
});
client.on('message', (t, payload, packet) => {
  emit({ event: 'message', topic: t, payload: payload.toString('utf8'), qos: packet.qos, dup: packet.dup === true });
});
client.on('close', () => emit({ event: 'close' }));
client.on('error', (err) => emit({ event: 'error', message: String(err && err.message) }));

let ending = false;
function stop(code) {
  if (ending) {
    return;
  }
  ending = true;
  client.end(false, {}, () => process.exit(code));
  setTimeout(() => process.exit(code), 2000).unref();
}
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'stop') {
    stop(0);
  }
}).on('close', () => stop(0));
setTimeout(() => stop(3), Number(maxRuntime) * 1000).unref();
