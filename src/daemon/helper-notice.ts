// What the daemon says about the configured user-space helpers (conntrackd's `Helper` section):
// ctsync does not run them, so each gets one warning naming what will not work, and why.
import { KNOWN_HELPERS, helperLabel, type HelperConfig } from '../config/helpers.js';
import type { CthelperSupport } from '../netlink/cthelper-probe.js';

/** One warning per helper; `support` is the kernel's answer (netlink/cthelper-probe.ts). */
export function helperWarnings(helpers: readonly HelperConfig[], support: CthelperSupport): string[] {
  const why = support.supported
    ? "ctsync does not implement conntrackd's user-space helpers"
    : `this kernel has no user-space conntrack helper support (nfnetlink_cthelper: ${support.reason}; conntrackd 1.4.7 refuses to start here)`;
  return helpers.map(
    (h) =>
      `helper '${helperLabel(h)}' (QueueNum ${h.queueNum}) does not run: ${why}. ` +
      `${KNOWN_HELPERS[h.name]?.purpose ?? 'its connections'} get no expectations through this gateway, ` +
      `and packets a ruleset sends to NFQUEUE ${h.queueNum} are dropped unless the rule has 'bypass'`,
  );
}
