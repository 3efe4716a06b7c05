// `ctsync config check FILE` and `ctsync config convert conntrackd.conf`.
import fs from 'node:fs';
import { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import type { HelperConfig } from '../config/helpers.js';

/** The daemon's start-up warnings about user-space helpers, from the kernel this runs on. */
async function kernelHelperWarnings(helpers: readonly HelperConfig[]): Promise<string[]> {
  const { helperWarnings } = await import('../daemon/helper-notice.js');
  const { probeCthelperSupport } = await import('../netlink/cthelper-probe.js');
  return helperWarnings(helpers, probeCthelperSupport());
}

export function configCommand(): Command {
  const config = new Command('config').description('check or convert configuration files');

  config
    .command('check')
    .description('validate a configuration (ctsync JSON or conntrackd.conf); every problem is listed with its place')
    .argument('<file>')
    .option('--json', 'print the resolved configuration (defaults filled in) as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { loadConfig } = await import('../config/load.js');
      try {
        const { config: cfg, warnings, format } = await loadConfig(file, { keyFiles: true });
        if (cfg.helpers) warnings.push(...(await kernelHelperWarnings(cfg.helpers)));
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        if (opts.json) process.stdout.write(JSON.stringify(cfg, null, 2) + '\n');
        else
          process.stdout.write(
            `${file}: ok (${format === 'json' ? 'ctsync JSON' : 'conntrackd.conf'}${warnings.length ? `, ${warnings.length} warning(s)` : ''})\n`,
          );
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(err.message + '\n');
        process.exitCode = 2;
      }
    });

  config
    .command('convert')
    .description('convert a conntrackd.conf into ctsync JSON (printed on stdout)')
    .argument('<file>')
    .action(async (file: string) => {
      const { convertConntrackdConf } = await import('../config/load.js');
      try {
        const { json, warnings } = convertConntrackdConf(fs.readFileSync(file, 'utf8'), file);
        for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(json);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(err.message + '\n');
        process.exitCode = 2;
      }
    });
  return config;
}
