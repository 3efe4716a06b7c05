// The `metrics` section of ctsync's JSON configuration: where the Prometheus endpoint listens.
// Absent = no endpoint (the default). JSON only: conntrackd.conf has no such setting, and a
// conntrackd.conf given to ctsync never needs one.
//
//   { "metrics": { "address": "127.0.0.1", "port": 9469 } }

export interface MetricsConfig {
  /** IPv4 or IPv6 address the HTTP endpoint binds to (no default: exposing it is a choice). */
  address: string;
  port: number;
}

export const metricsSchema = {
  type: 'object',
  required: ['address', 'port'],
  additionalProperties: false,
  expected: 'the metrics section: {"address": "127.0.0.1", "port": 9469}',
  properties: {
    address: { type: 'string', format: 'ip', expected: 'an IPv4 or IPv6 address to listen on' },
    port: { type: 'integer', minimum: 1, maximum: 65535, expected: 'a TCP port (1-65535)' },
  },
} as const;
