// Counting a process's TCP connections from /proc, and the open-files limit
// the watch benchmark needs. /proc/<pid>/net/tcp lists every socket of the
// network namespace, not the process's own, so a process's connections are
// the entries whose inode is one of its fds (/proc/<pid>/fd -> socket:[inode]).
// That works for processes we started, without `ss -p` or root.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface TcpEntry {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** e.g. ESTABLISHED, LISTEN, TIME_WAIT */
  state: string;
  inode: number;
}

const tcpStates: Readonly<Record<string, string>> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

/** "0100007F" (an IPv4 address as the kernel prints it, host byte order on little-endian) -> "127.0.0.1"; IPv6 stays hex. */
function hexAddress(hex: string): string {
  if (hex.length !== 8) return hex;
  const b = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `${b[3]}.${b[2]}.${b[1]}.${b[0]}`;
}

/** Parses the text of /proc/<pid>/net/tcp or tcp6 (the header line is skipped). */
export function parseProcNetTcp(text: string): TcpEntry[] {
  const out: TcpEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
    if (f.length < 10 || !/^\d+:$/.test(f[0] ?? '')) continue;
    const [la, lp] = (f[1] ?? '').split(':');
    const [ra, rp] = (f[2] ?? '').split(':');
    if (la === undefined || lp === undefined || ra === undefined || rp === undefined) continue;
    const st = (f[3] ?? '').toUpperCase();
    out.push({
      localAddress: hexAddress(la),
      localPort: parseInt(lp, 16),
      remoteAddress: hexAddress(ra),
      remotePort: parseInt(rp, 16),
      state: tcpStates[st] ?? st,
      inode: Number(f[9]),
    });
  }
  return out;
}

/** The inodes of the sockets process `pid` holds open. */
export function socketInodes(pid: number): Set<number> {
  const inodes = new Set<number>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** The process's established TCP connections (IPv4 and IPv6). */
export function processConnections(pid: number): TcpEntry[] {
  const mine = socketInodes(pid);
  const all: TcpEntry[] = [];
  for (const file of ['tcp', 'tcp6']) {
    try {
      all.push(...parseProcNetTcp(readFileSync(`/proc/${pid}/net/${file}`, 'utf8')));
    } catch {
      // no IPv6
    }
  }
  // The kernel prints the table a page at a time; while other sockets come and
  // go an entry can be printed twice across a page boundary, so count inodes once.
  const byInode = new Map<number, TcpEntry>();
  for (const e of all) if (e.state === 'ESTABLISHED' && mine.has(e.inode)) byInode.set(e.inode, e);
  return [...byInode.values()];
}

/**
 * How many of the process's established connections go to `host` on one of
 * `remotePorts` (its upstream connections). The host matters: a connection
 * the process accepted can have a client port that happens to equal one of
 * the ports, but not also the host when clients come from other addresses.
 */
export function connectionsTo(pid: number, remotePorts: readonly number[], host = '127.0.0.1'): number {
  const ports = new Set(remotePorts);
  return processConnections(pid).filter((e) => e.remoteAddress === host && ports.has(e.remotePort)).length;
}

/** How many established connections the process has accepted on `localPort` from peers `from` accepts (default all). */
export function connectionsOn(pid: number, localPort: number, from: (remoteAddress: string) => boolean = () => true): number {
  return processConnections(pid).filter((e) => e.localPort === localPort && from(e.remoteAddress)).length;
}

/** The "Max open files" soft and hard limits from the text of /proc/<pid>/limits ("unlimited" -> Infinity). */
export function parseOpenFilesLimit(limitsText: string): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limitsText);
  const num = (s: string | undefined) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  if (!m) return { soft: Number.NaN, hard: Number.NaN };
  return { soft: num(m[1]), hard: num(m[2]) };
}

/**
 * Makes this process's soft open-files limit at least `want` (never above
 * the hard limit), with `prlimit --pid` since Node cannot call setrlimit.
 * Processes spawned afterwards inherit it. Returns the limits now in force.
 */
export function ensureOpenFilesLimit(want: number): { soft: number; hard: number; raisedFrom?: number; problem?: string } {
  const read = () => parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  const before = read();
  if (!(before.soft < want)) return before;
  const target = Math.min(want, before.hard);
  try {
    const hard = Number.isFinite(before.hard) ? String(before.hard) : 'unlimited';
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${hard}`], { timeout: 5000, stdio: 'ignore' });
  } catch (err) {
    return { ...before, problem: `prlimit failed: ${(err as Error).message}` };
  }
  const after = read();
  const r: { soft: number; hard: number; raisedFrom?: number; problem?: string } = { ...after, raisedFrom: before.soft };
  if (after.soft < want) r.problem = `the hard limit (${before.hard}) is below the ${want} open files wanted`;
  return r;
}
