// Named crash points in production code (FoundationDB style). A no-op unless
// armed, either by the environment for fault tests that run a real process:
//
//   RAFTGATE_FAILPOINTS="walBeforeFsync=exit,snapAfterRename=sleep(2000)"
//
// or in-process with armFailpoint() for unit tests and simulation.
// Actions: exit (process.exit(137), what a SIGKILL looks like to a parent),
// throw (an Error with code RG_ERR_FAILPOINT), sleep(ms) (a slow disk), off.
// RAFTGATE_FAILPOINTS_DELAY_MS=N keeps the environment's failpoints quiet
// for the first N ms of the process (a disk that turns slow once a cluster
// has formed: elections themselves need durable votes).

export const FAILPOINT_NAMES = ['walBeforeFsync', 'walAfterFsync', 'snapBeforeRename', 'snapAfterRename'] as const;
export type FailpointName = (typeof FAILPOINT_NAMES)[number];

export type FailpointAction = { kind: 'exit' } | { kind: 'throw' } | { kind: 'sleep'; ms: number } | { kind: 'call'; fn: () => void | Promise<void> };

const armed = new Map<FailpointName, FailpointAction>();
let envLoaded = false;
/** Environment failpoints fire only from this time on (ms since the epoch). */
let envActiveFromMs = 0;
const envArmed = new Set<FailpointName>();

function isName(s: string): s is FailpointName {
  return (FAILPOINT_NAMES as readonly string[]).includes(s);
}

/** Parses the RAFTGATE_FAILPOINTS syntax; throws on anything it does not know, so a typo never silently disarms a fault test. */
export function parseFailpoints(spec: string): Map<FailpointName, FailpointAction> {
  const out = new Map<FailpointName, FailpointAction>();
  for (const part of spec.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^([A-Za-z]+)=(exit|throw|off|sleep\((\d{1,7})\))$/.exec(part);
    if (m === null || !isName(m[1]!)) throw new Error(`RAFTGATE_FAILPOINTS: cannot parse '${part}' (known: ${FAILPOINT_NAMES.join(', ')}; actions: exit, throw, sleep(ms), off)`);
    const action = m[2]!;
    if (action === 'off') continue;
    out.set(m[1]! as FailpointName, action === 'exit' ? { kind: 'exit' } : action === 'throw' ? { kind: 'throw' } : { kind: 'sleep', ms: Number(m[3]) });
  }
  return out;
}

function loadEnv(): void {
  envLoaded = true;
  const spec = process.env['RAFTGATE_FAILPOINTS'];
  if (spec === undefined || spec === '') return;
  const delay = Number(process.env['RAFTGATE_FAILPOINTS_DELAY_MS'] ?? 0);
  if (!Number.isInteger(delay) || delay < 0) throw new Error('RAFTGATE_FAILPOINTS_DELAY_MS must be a whole number of milliseconds');
  envActiveFromMs = Date.now() + delay;
  for (const [k, v] of parseFailpoints(spec)) {
    armed.set(k, v);
    envArmed.add(k);
  }
}

export function armFailpoint(name: FailpointName, action: FailpointAction): void {
  if (!envLoaded) loadEnv();
  armed.set(name, action);
  envArmed.delete(name);
}

export function disarmFailpoint(name: FailpointName): void {
  armed.delete(name);
  envArmed.delete(name);
}

/**
 * Marks a crash point. Returns undefined when disarmed (the production case,
 * so call sites pay one map lookup), or a promise to await when armed.
 */
export function failpoint(name: FailpointName): Promise<void> | undefined {
  if (!envLoaded) loadEnv();
  if (armed.size === 0) return undefined;
  const a = armed.get(name);
  if (a === undefined) return undefined;
  if (envArmed.has(name) && Date.now() < envActiveFromMs) return undefined;
  switch (a.kind) {
    case 'exit':
      process.exit(137);
      break;
    case 'throw':
      return Promise.reject(Object.assign(new Error(`failpoint ${name} fired`), { code: 'RG_ERR_FAILPOINT' }));
    case 'sleep':
      return new Promise((resolve) => setTimeout(resolve, a.ms));
    case 'call':
      return Promise.resolve().then(a.fn);
  }
  return undefined;
}
