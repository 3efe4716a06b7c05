// Reading a systemd unit file, for the tests of ours and of Debian's conntrackd.service.

/** The [Service] settings of a unit file (the last assignment of each wins, as in systemd). */
export function serviceSettings(unitText: string): Map<string, string> {
  const settings = new Map<string, string>();
  let section = '';
  for (const raw of unitText.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1];
    else if (section === 'Service') {
      const eq = line.indexOf('=');
      settings.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
    }
  }
  return settings;
}
