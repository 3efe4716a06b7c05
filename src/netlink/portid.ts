// Which process owns a netlink port id: `conntrack -E` names the program behind userspace-caused
// events (`[USERSPACE] portid=N progname=X`). Best effort: the process may be gone already.
import fs from 'node:fs';

/** Inode of the netlink socket bound to `portid` (from /proc/net/netlink), if any. */
function socketInode(portid: number): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/net/netlink', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    if (f.length >= 10 && Number(f[2]) === portid) return f[9];
  }
  return undefined;
}

/** Command name (/proc/PID/comm) of the process holding the netlink socket with this port id. */
export function programOfPortId(portid: number): string | undefined {
  const inode = socketInode(portid);
  if (!inode) return undefined;
  const target = `socket:[${inode}]`;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === target)
          return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        /* raced with the process exiting */
      }
    }
  }
  return undefined;
}
