// `npm run sim -- --seed 123456 --members 5 --events 2000 [--trace] [--count N] [--wal-replay production]`
//
// Replays one seed (or N consecutive seeds from it) and prints its summary.
// With --trace every event of the run is printed, so a failing seed can be
// read step by step. Exit status 1 on a failure.

import type { WalReplay } from './disk.js';
import { simulate, SimFailure, type SimStats } from './simulator.js';

interface Args {
  seed: number;
  members: number;
  events: number;
  trace: boolean;
  count: number;
  walReplay: WalReplay;
}

function parse(argv: string[]): Args {
  const a: Args = { seed: 1, members: 3, events: 2000, trace: false, count: 1, walReplay: 'contract' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${flag} needs a non-negative integer`);
      return v;
    };
    if (flag === '--seed') a.seed = value();
    else if (flag === '--members') a.members = value();
    else if (flag === '--events') a.events = value();
    else if (flag === '--count') a.count = value();
    else if (flag === '--trace') a.trace = true;
    else if (flag === '--wal-replay') {
      const v = argv[++i];
      if (v !== 'contract' && v !== 'production') throw new Error('--wal-replay is contract or production');
      a.walReplay = v;
    } else throw new Error(`unknown flag ${flag} (flags: --seed N --members 3|5 --events N --count N --trace --wal-replay contract|production)`);
  }
  if (a.members < 1 || a.members > 7) throw new Error('--members must be 1..7');
  return a;
}

function line(seed: number, s: SimStats, ms: number): string {
  return (
    `seed ${seed}: ${s.events} events, ${(s.virtualMs / 1000).toFixed(1)}s virtual, ${ms.toFixed(0)}ms real; ` +
    `crashes ${s.crashes} (torn ${s.tornWrites}, lost writes ${s.lostWrites}), partitions ${s.partitions}, clogs ${s.clogs}, pauses ${s.pauses}, disk stalls ${s.diskStalls}; ` +
    `elections ${s.elections}, commits ${s.commits}, acked ${s.acked}/${s.proposals}, reads ${s.reads}, compactions ${s.compactions}, snapshot installs ${s.snapshotInstalls}, ` +
    `membership ${s.membershipChanges}, transfers ${s.transfers}; progress after heal in ${s.healTicks} ticks`
  );
}

function main(): number {
  const args = parse(process.argv.slice(2));
  let failed = 0;
  for (let k = 0; k < args.count; k++) {
    const seed = args.seed + k;
    const t0 = performance.now();
    try {
      const stats = simulate({
        seed,
        members: args.members,
        events: args.events,
        walReplay: args.walReplay,
        ...(args.trace ? { trace: (l: string) => process.stdout.write(`${l}\n`) } : {}),
      });
      process.stdout.write(`${line(seed, stats, performance.now() - t0)}\n`);
    } catch (err) {
      failed++;
      if (err instanceof SimFailure) {
        process.stdout.write(`${err.message}\n`);
        if (err.cause instanceof Error && err.cause.stack) process.stdout.write(`${err.cause.stack}\n`);
      } else throw err;
    }
  }
  return failed === 0 ? 0 : 1;
}

// `npm run sim -- ... --trace | head` closes the pipe early: that is not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = main();
