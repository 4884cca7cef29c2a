// What every benchmark prints and records: progress lines on stderr, the
// facts a dated RESULTS.md section opens with, and the append itself.

import os from 'node:os';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { formatBytes } from './stats.js';

const t0 = Date.now();

/** One progress line on stderr, stamped with seconds since the benchmark started. */
export function progress(msg: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

/** "6.57 / 6.95 / 6.22": the 1-, 5- and 15-minute load averages. */
export function loadAvgText(l: readonly number[] = os.loadavg()): string {
  return l.map((x) => x.toFixed(2)).join(' / ');
}

/**
 * Waits until the 1-minute load average is at most `maxLoad` (polled every
 * `pollMs`), for at most `maxWaitMs`; returns a sentence for the notes saying
 * what the load was and how long it waited. maxLoad 0 returns at once.
 */
export async function waitForQuietMachine(label: string, maxLoad: number, maxWaitMs: number, pollMs = 30_000): Promise<string> {
  const first = os.loadavg();
  if (maxLoad <= 0 || (first[0] ?? 0) <= maxLoad) return `${label}: 1/5/15-min load average before: ${loadAvgText(first)}.`;
  const start = Date.now();
  progress(`${label}: load average ${loadAvgText(first)} is above ${maxLoad}; waiting up to ${Math.round(maxWaitMs / 60_000)} min for a quieter moment`);
  for (;;) {
    await new Promise((r) => setTimeout(r, pollMs));
    const now = os.loadavg();
    const waited = Date.now() - start;
    const quiet = (now[0] ?? 0) <= maxLoad;
    if (quiet || waited + pollMs > maxWaitMs) {
      const how = quiet ? `fell to ${loadAvgText(now)}` : `was still ${loadAvgText(now)}; started anyway`;
      return `${label}: 1/5/15-min load average was ${loadAvgText(first)}; after waiting ${Math.round(waited / 1000)} s it ${how}.`;
    }
    progress(`${label}:   ... load average ${loadAvgText(now)} after ${Math.round(waited / 1000)} s`);
  }
}

/** `## 2026-11-22T04:49:23Z — title` */
export function sectionHeading(title: string): string {
  return `## ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} — ${title}`;
}

/** `- Machine: 2 × <CPU>, <RAM>, <OS>` */
export function machineLine(): string {
  const cpus = os.cpus();
  return `- Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${formatBytes(os.totalmem())} RAM, ${os.type()} ${os.release()} ${os.arch()}`;
}

/** "status×count, ..." or "none". */
export function failuresText(f: Record<string, number>): string {
  const parts = Object.entries(f).map(([k, n]) => `${k}×${n}`);
  return parts.length ? parts.join(', ') : 'none';
}

// The file's top ("How to run", "What ... measures") is maintained by hand
// in bench/RESULTS.md; a missing file gets only a title pointing there.
const resultsHeader = `# Raftgate benchmark results

Each run appends a dated section; see bench/RESULTS.md in the repository for
how to run each mode and what it measures.
`;

/** Appends one section to the results file (creating it if missing). */
export function writeResults(file: string, section: string): void {
  if (!existsSync(file)) writeFileSync(file, resultsHeader);
  appendFileSync(file, `\n${section}`);
}

export interface Section {
  /** After the date in the heading, e.g. "cluster, 3 members". */
  title: string;
  /** "- ..." lines under the machine line: versions, configuration. */
  facts: readonly string[];
  /** Tables and paragraphs, separated by blank lines. */
  blocks: readonly string[];
  notes: readonly string[];
}

/** A dated RESULTS.md section: heading, machine and facts, the blocks, then the notes as a list. */
export function renderSection(s: Section): string {
  return [
    sectionHeading(s.title),
    '',
    machineLine(),
    ...s.facts,
    '',
    ...s.blocks.flatMap((b) => [b, '']),
    'Notes:',
    '',
    ...s.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

/** The notes every system contributes: its problems (in bold) and its servers' warning log lines. */
export function systemNotes(s: { kind: string; problems: readonly string[]; logWarnings: readonly string[] }): string[] {
  return [...s.problems.map((p) => `**${s.kind}: ${p}**`), ...s.logWarnings.map((w) => `${s.kind} log, ${w}`)];
}

/** Notes for a system left out with --only. */
export function notRunNotes(ranRaftgate: boolean, ranEtcd: boolean): string[] {
  return [...(ranRaftgate ? [] : ['Raftgate was not run (--only etcd).']), ...(ranEtcd ? [] : ['etcd was not run (--only raftgate).'])];
}

/** Prints the section on stdout and appends it to the results file unless --no-write. */
export function publish(o: { write: boolean; resultsFile: string }, section: string): void {
  process.stdout.write(`\n${section}\n`);
  if (o.write) {
    writeResults(o.resultsFile, section);
    progress(`appended to ${o.resultsFile}`);
  }
}
