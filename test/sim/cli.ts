// `npm run sim -- --seed 123456 --members 5 --events 2000 [--trace] [--count N] [--wal-replay production]
//                 [--driver ready|pipelined] [--mutation NAME] [--no-durability-checks] [--quiet]
//                 [--unsafe-send-before-persist]`
//
// Replays one seed (or N consecutive seeds from it) and prints its summary.
// With --trace every event of the run is printed, so a failing seed can be
// read step by step. A sweep (--count > 1) ends with the failures counted
// by invariant: with --mutation that is the catch rate design.md records.
// Exit status 1 on a failure.

import type { WalReplay } from './disk.js';
import { PIPELINE_MUTATIONS, type DriverKind, type PipelineMutation } from './member.js';
import { simulate, SimFailure, type SimStats } from './simulator.js';

interface Args {
  seed: number;
  members: number;
  events: number;
  trace: boolean;
  count: number;
  walReplay: WalReplay;
  driver: DriverKind;
  mutation: PipelineMutation | undefined;
  durabilityChecks: boolean;
  unsafeSendBeforePersist: boolean;
  /** Print only failures and the sweep's summary. */
  quiet: boolean;
}

function parse(argv: string[]): Args {
  const a: Args = { seed: 1, members: 3, events: 2000, trace: false, count: 1, walReplay: 'contract', driver: 'ready', mutation: undefined, durabilityChecks: true, unsafeSendBeforePersist: false, quiet: false };
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
    else if (flag === '--quiet') a.quiet = true;
    else if (flag === '--no-durability-checks') a.durabilityChecks = false;
    else if (flag === '--unsafe-send-before-persist') a.unsafeSendBeforePersist = true;
    else if (flag === '--driver') {
      const v = argv[++i];
      if (v !== 'ready' && v !== 'pipelined') throw new Error('--driver is ready or pipelined');
      a.driver = v;
    } else if (flag === '--mutation') {
      const v = argv[++i] as PipelineMutation;
      if (!PIPELINE_MUTATIONS.includes(v)) throw new Error(`--mutation is one of ${PIPELINE_MUTATIONS.join(', ')}`);
      a.mutation = v;
      a.driver = 'pipelined';
    }
    else if (flag === '--wal-replay') {
      const v = argv[++i];
      if (v !== 'contract' && v !== 'production') throw new Error('--wal-replay is contract or production');
      a.walReplay = v;
    } else {
      throw new Error(
        `unknown flag ${flag} (flags: --seed N --members 3|5 --events N --count N --trace --quiet --wal-replay contract|production --driver ready|pipelined --mutation NAME --no-durability-checks --unsafe-send-before-persist)`,
      );
    }
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
  const byInvariant = new Map<string, number>();
  const t0All = performance.now();
  for (let k = 0; k < args.count; k++) {
    const seed = args.seed + k;
    const t0 = performance.now();
    try {
      const stats = simulate({
        seed,
        members: args.members,
        events: args.events,
        walReplay: args.walReplay,
        driver: args.driver,
        durabilityChecks: args.durabilityChecks,
        unsafeSendBeforePersist: args.unsafeSendBeforePersist,
        ...(args.mutation !== undefined ? { pipelineMutation: args.mutation } : {}),
        ...(args.trace ? { trace: (l: string) => process.stdout.write(`${l}\n`) } : {}),
      });
      if (!args.quiet) process.stdout.write(`${line(seed, stats, performance.now() - t0)}\n`);
    } catch (err) {
      failed++;
      if (err instanceof SimFailure) {
        byInvariant.set(err.invariant, (byInvariant.get(err.invariant) ?? 0) + 1);
        process.stdout.write(`${err.message}\n`);
        if (!args.quiet && err.cause instanceof Error && err.cause.stack) process.stdout.write(`${err.cause.stack}\n`);
      } else throw err;
    }
  }
  if (args.count > 1) {
    const rows = [...byInvariant].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} ${n}`);
    process.stdout.write(
      `sweep: ${failed} of ${args.count} schedules failed (${((100 * failed) / args.count).toFixed(1)} %) in ${((performance.now() - t0All) / 1000).toFixed(1)}s${rows.length > 0 ? `; by invariant: ${rows.join(', ')}` : ''}\n`,
    );
  }
  return failed === 0 ? 0 : 1;
}

// `npm run sim -- ... --trace | head` closes the pipe early: that is not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = main();
