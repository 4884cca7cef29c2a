// Command-line flags shared by every benchmark mode: how long and how often
// to measure, which systems to run, where the results go. Each mode adds its
// own flags through the same parser.

import path from 'node:path';
import { parseDurationMs } from './stats.js';
import type { ServerKind } from './procs.js';

export interface CommonOptions {
  /** Length of each measured run. */
  durationMs: number;
  /** Unmeasured warm-up before a workload's first run; 0 for none. */
  warmupMs: number;
  /** Measured runs per workload; tables show medians. */
  runs: number;
  /** Which systems to run, in order. */
  systems: ServerKind[];
  /** Append the section to resultsFile (off with --no-write). */
  write: boolean;
  resultsFile: string;
  /** A line for the notes, e.g. what else the machine was doing. */
  note: string;
  /** Before each system, wait (up to quietWaitMs) until the 1-minute load average is at most this; 0: do not wait. */
  quietLoad: number;
  quietWaitMs: number;
}

export const commonUsage = `  --duration D      length of each measured run (default 5s; e.g. 500ms, 5s, 1m)
  --runs N          measured runs per workload; the table shows medians (default 3)
  --warmup D        unmeasured warm-up per workload before the first run (default 1s; 0 for none)
  --only KIND       run only raftgate or only etcd (ratios show n/a)
  --note TEXT       add a line to the notes in RESULTS.md
  --no-write        print the section but do not append to bench/RESULTS.md
  --results FILE    append to FILE instead of bench/RESULTS.md
  --wait-for-load L before each system, wait until the 1-minute load average is <= L
                    (polled every 30 s; default 0 = do not wait)
  --wait-max D      longest such wait (default 20m)`;

export function defaultCommonOptions(repoRoot: string): CommonOptions {
  return {
    durationMs: 5000,
    warmupMs: 1000,
    runs: 3,
    systems: ['raftgate', 'etcd'],
    write: true,
    resultsFile: path.join(repoRoot, 'bench', 'RESULTS.md'),
    note: '',
    quietLoad: 0,
    quietWaitMs: 20 * 60_000,
  };
}

/** An integer flag value within min..max, or a message naming the flag. */
export function intArg(flag: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} takes an integer in ${min}..${max}, got "${v ?? ''}"`);
  return n;
}

/** A comma-separated list of integers, each within min..max: "1000,5000". */
export function intListArg(flag: string, v: string, min: number, max: number): number[] {
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new Error(`${flag} takes a comma-separated list of integers, got "${v}"`);
  return parts.map((p) => intArg(flag, p, min, max));
}

/** A flag's handler; `value()` consumes the flag's argument (`--f v` or `--f=v`), flags without one never call it. */
export type FlagHandler = (value: () => string) => void;

/**
 * Applies `args` to `common` and to the mode's own `extra` flags. Throws on
 * an unknown flag (with `usage`) or a missing value.
 */
export function parseFlags(args: readonly string[], common: CommonOptions, extra: Readonly<Record<string, FlagHandler>>, usage: string): void {
  const commonFlags: Record<string, FlagHandler> = {
    '--duration': (v) => (common.durationMs = parseDurationMs(v())),
    '--warmup': (v) => {
      const s = v();
      common.warmupMs = s === '0' ? 0 : parseDurationMs(s);
    },
    '--runs': (v) => (common.runs = intArg('--runs', v(), 1, 50)),
    '--only': (v) => {
      const s = v();
      if (s !== 'etcd' && s !== 'raftgate') throw new Error(`--only takes etcd or raftgate, got "${s}"`);
      common.systems = [s];
    },
    '--note': (v) => (common.note = v()),
    '--no-write': () => (common.write = false),
    '--results': (v) => (common.resultsFile = path.resolve(v())),
    '--wait-for-load': (v) => {
      const s = v();
      const n = Number(s);
      if (!(n >= 0 && n < 1000)) throw new Error(`--wait-for-load takes a load average such as 1.5, got "${s}"`);
      common.quietLoad = n;
    },
    '--wait-max': (v) => (common.quietWaitMs = parseDurationMs(v())),
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const handler = extra[flag] ?? commonFlags[flag];
    if (handler === undefined) throw new Error(`unknown flag "${a}"\n\n${usage}`);
    handler(() => {
      if (inline !== undefined) return inline;
      const v = args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    });
  }
}
