// A CheckResult for a human: one line when all is well, and for a violation
// the key, the first answer that cannot be explained, the order the search
// got furthest with, and a timeline of the ops around it, e.g.
//
//   #3 c1 [-----]              set(/k, "a") -> ok "a" @1
//   #4 c2    [--------]        set(/k, "b") -> ok "b" @2
//   #5 c3                [--]  get(/k) -> ok "a" @1
//
// The timeline is in event order, not to scale: each step is one call or
// return, so what overlaps in time overlaps on the page ('>' = still open).

import type { CheckResult, Failure, KeyFailure } from './checker.js';
import type { OpRecord } from './history.js';
import { describeInput, describeOutput } from './ops.js';

const timelineOpsMax = 16;
const timelineBarsWidth = 60;

export function formatOp(r: OpRecord): string {
  const ret = r.return === Number.POSITIVE_INFINITY ? 'open' : String(r.return);
  return `#${r.id} c${r.client} ${describeInput(r.input)} -> ${describeOutput(r.output)}  [${r.call}, ${ret}]`;
}

/** Ops as bars over a shared axis of their call and return events, each op described after its bar. */
export function formatTimeline(ops: readonly OpRecord[]): string[] {
  const shown = [...ops].sort((a, b) => a.call - b.call || a.id - b.id).slice(-timelineOpsMax);
  const times = [...new Set(shown.flatMap((r) => [r.call, r.return]).filter(Number.isFinite))].sort((a, b) => a - b);
  const labels = shown.map((r) => `#${r.id} c${r.client}`);
  const labelWidth = Math.max(...labels.map((l) => l.length)) + 1;
  const step = Math.max(1, Math.min(4, Math.floor(timelineBarsWidth / Math.max(1, times.length))));
  const col = (t: number): number => (t === Number.POSITIVE_INFINITY ? times.length * step : times.indexOf(t) * step);
  const axisWidth = times.length * step + 2;
  return shown.map((r, i) => {
    const start = col(r.call);
    const open = r.return === Number.POSITIVE_INFINITY;
    const end = Math.max(start + 1, col(r.return));
    const bar = `${' '.repeat(start)}[${'-'.repeat(end - start - 1)}${open ? '>' : ']'}`;
    return `${(labels[i] as string).padEnd(labelWidth)}${bar.padEnd(axisWidth)}${describeInput(r.input)} -> ${describeOutput(r.output)}`;
  });
}

function formatKeyFailure(f: KeyFailure): string[] {
  const lines = [`NOT linearizable: key ${JSON.stringify(f.key)}`];
  if (f.prefix.length === 0) return [...lines, '  (not narrowed down: explanation limit reached)'];
  if (f.culprit !== undefined) {
    lines.push(`  first unexplainable answer: ${formatOp(f.culprit)}`);
    lines.push(`  the key's ${f.prefix.length} ops up to its return cannot be linearized; every shorter prefix can`);
  } else {
    lines.push(`  the key's first ${f.prefix.length} ops cannot be linearized (budget ran out narrowing it further)`);
  }
  const hidden = f.linearizedCount - f.linearized.length;
  lines.push(`  longest linearization found: ${f.linearizedCount} ops${hidden > 0 ? `, the last ${f.linearized.length}` : ''}:`);
  for (const s of f.linearized) lines.push(`    ${formatOp(s.record)}`, `        => ${s.state}`);
  lines.push('  then none of these could go next:');
  for (const r of f.stuck.slice(0, timelineOpsMax)) lines.push(`    ${formatOp(r)}`);
  if (f.stuck.length > timelineOpsMax) lines.push(`    ... and ${f.stuck.length - timelineOpsMax} more`);
  const window = [...new Set([...f.linearized.map((s) => s.record), ...f.stuck.slice(0, timelineOpsMax / 2)])];
  lines.push('  timeline (event order, not to scale):');
  for (const l of formatTimeline(window)) lines.push(`    ${l}`);
  return lines;
}

function formatFailure(f: Failure): string[] {
  if (f.kind === 'key') return formatKeyFailure(f);
  return [
    `NOT linearizable: the etcd index across keys: ${f.why}`,
    `    ${formatOp(f.before)}`,
    `    ${formatOp(f.after)}`,
    '  timeline (event order, not to scale):',
    ...formatTimeline([f.before, f.after]).map((l) => `    ${l}`),
  ];
}

export function formatResult(r: CheckResult): string {
  const summary = `${r.ops} operations (${r.unknownOps} unknown) on ${r.keys.length} keys, ${r.steps} search steps`;
  if (r.verdict === 'linearizable') return `linearizable: ${summary}`;
  const lines: string[] = [];
  if (r.verdict === 'timed-out') {
    lines.push(`TIMED OUT (neither proven nor refuted): ${summary}`);
    for (const k of r.keys.filter((k) => k.verdict === 'timed-out')) {
      lines.push(`  key ${JSON.stringify(k.key)}: ${k.ops} ops (${k.unknownOps} unknown), stopped by the ${k.limit ?? ''} limit after ${k.steps} steps`);
    }
    return lines.join('\n');
  }
  lines.push(`NOT LINEARIZABLE: ${summary}`);
  const timedOut = r.keys.filter((k) => k.verdict === 'timed-out').map((k) => JSON.stringify(k.key));
  if (timedOut.length > 0) lines.push(`  (also timed out: ${timedOut.join(', ')})`);
  for (const f of r.failures) lines.push(...formatFailure(f));
  return lines.join('\n');
}
