// Child process for test/integration/netlink/ct-events-batch.test.ts, run inside a test namespace: listens to conntrack
// events with ConntrackEvents and prints one JSON line per event, overrun and malformed report.
// argv[2]: a JSON array of listeners, each { name, raw?, rcvbuf?, slotSize?, batch?, iterationLimit? }.
// Prints "ready" once every listener is started.
import { ConntrackEvents, type EventOptions } from '../../src/netlink/conntrack-events.js';
import { decodeConntrack } from '../../src/netlink/ctnetlink.js';

interface ListenerSpec extends EventOptions {
  name: string;
}

const specs = JSON.parse(process.argv[2] ?? '[]') as ListenerSpec[];
const out = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};
for (const spec of specs) {
  const ev = new ConntrackEvents(spec);
  const name = spec.name;
  if (spec.raw) {
    ev.onRawConntrack = (type, buf, off, len, pid) => {
      out({ name, kind: 'event', type, pid, len, entry: decodeConntrack(buf, off, len) });
    };
  }
  ev.on('event', (type, entry, pid) => out({ name, kind: 'event', type, pid, decoded: true, entry }));
  ev.on('overrun', (info) => out({ name, kind: 'overrun', ...info }));
  ev.on('malformed', (err) => out({ name, kind: 'malformed', message: err.message }));
  ev.on('error', (err) => out({ name, kind: 'error', message: err.message }));
  ev.start();
}
out('ready');
process.on('SIGTERM', () => process.exit(0));
