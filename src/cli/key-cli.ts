// `ctsync key generate FILE`: a new random sync authentication key (docs/ftfw-protocol.md §13.5).
import { Command } from 'commander';

export function keyCommand(): Command {
  const key = new Command('key').description('manage the keys that authenticate the sync link');
  key
    .command('generate')
    .description('write a new random 32-byte key to FILE with mode 0600 (an existing file is never overwritten)')
    .argument('<file>')
    .action(async (file: string) => {
      const { generateKeyFile } = await import('../config/auth-keys.js');
      try {
        generateKeyFile(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new Error(
          code === 'EEXIST'
            ? `${file} exists already: a key in use is never overwritten (remove it first, or pick another name)`
            : `cannot write the key file ${file}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      process.stdout.write(`${file}: new key written (mode 0600)\n`);
    });
  return key;
}
