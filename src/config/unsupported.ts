// Settings conntrackd has and ctsync refuses, with the reason (a setting is applied or refused,
// never read and ignored). Checked on the model, so the JSON file and conntrackd.conf say the same.
import type { KeyedProblem } from './schema.js';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function unsupportedSettings(root: unknown): KeyedProblem[] {
  const out: KeyedProblem[] = [];
  const general = isObj(root) ? root.general : undefined;
  if (isObj(general) && general.pollSecs !== undefined)
    out.push({
      path: 'general.pollSecs',
      message:
        "is not supported: conntrackd's polling mode (no event socket; the table is dumped every N seconds) is not implemented by ctsync, which replicates from kernel events only; remove it to replicate every change as it happens",
    });
  return out;
}
