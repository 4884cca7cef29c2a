// Transcript tests, after etcd-io/raft's testdata/*.txt: each file in
// test/raft/testdata is a sequence of blocks
//
//   command args...
//   ----
//   expected output
//
// separated by blank lines; '#' lines are comments. A transcript reads as a
// story of one scenario, message by message, so a behaviour change shows up
// as a readable diff. Regenerate after an intended change with
//   RAFT_TRANSCRIPT_REWRITE=1 npx vitest run test/raft/transcript.test.ts
// and review the diff.
//
// Members are named 1..n in transcripts (ids 000...1 .. 000...n).

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster, ids, text } from './network.js';
import type { Message } from '../../core-server/raft/types.js';

const dir = join(import.meta.dirname, 'testdata');

function short(id: string): string {
  return id === '' ? '-' : String(parseInt(id, 16));
}

function fmt(m: Message): string {
  const head = `${short(m.from)}->${short(m.to)} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'preVote':
    case 'vote':
      return `${head} last=${m.index}/${m.logTerm}${m.type === 'vote' && m.transfer ? ' transfer' : ''}`;
    case 'preVoteResp':
    case 'voteResp':
      return `${head}${m.reject ? ' REJECT' : ''}`;
    case 'app':
      return `${head} prev=${m.index}/${m.logTerm} commit=${m.commit} entries=[${m.entries.map((e) => `${e.index}/${e.term}${e.data.length ? ` ${text(e.data)}` : ''}`).join(', ')}]`;
    case 'appResp':
      return `${head} index=${m.index}${m.reject ? ` REJECT hint=${m.rejectHint}/${m.logTerm}` : ''}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'heartbeatResp':
      return `${head}${m.context ? ` ctx=${m.context}` : ''}`;
    case 'snap':
      return `${head} snap=${m.snapshot.meta.index}/${m.snapshot.meta.term}`;
    case 'readIndex':
      return `${head} ctx=${m.context}`;
    case 'readIndexResp':
      return `${head} ctx=${m.context} index=${m.index}`;
    case 'transferLeader':
      return `${head} transferee=${short(m.transferee)}`;
    case 'timeoutNow':
      return head;
  }
}

class Runner {
  c: Cluster | undefined;
  members: string[] = [];

  private id(arg: string | undefined): string {
    const n = Number(arg);
    const id = this.members[n - 1];
    if (id === undefined) throw new Error(`no member ${arg}`);
    return id;
  }

  private cluster(): Cluster {
    if (!this.c) throw new Error('no cluster: start with "cluster n"');
    return this.c;
  }

  run(cmd: string, args: string[]): string[] {
    const out: string[] = [];
    switch (cmd) {
      case 'cluster': {
        const n = Number(args[0]);
        this.members = ids(n);
        this.c = new Cluster(this.members, { seed: 1, electionTicks: 10, heartbeatTicks: 1, checkEveryStep: true });
        out.push('ok');
        break;
      }
      case 'campaign':
        this.cluster().campaign(this.id(args[0]));
        out.push('ok');
        break;
      case 'propose': {
        const res = this.cluster().propose(this.id(args[0]), args[1] ?? '');
        out.push(res.ok ? `index=${res.index} term=${res.term}` : res.code);
        break;
      }
      case 'tick': {
        const c = this.cluster();
        const n = Number(args[1] ?? '1');
        c.tick(this.id(args[0]), n);
        out.push('ok');
        break;
      }
      case 'isolate':
        this.cluster().isolate(this.id(args[0]));
        out.push('ok');
        break;
      case 'heal':
        this.cluster().heal();
        out.push('ok');
        break;
      case 'stabilize': {
        // Deliver FIFO, printing each message as it is delivered (or dropped).
        const c = this.cluster();
        for (let i = 0; c.queue.length > 0; i++) {
          if (i > 10_000) throw new Error('stabilize does not settle');
          const m = c.queue[0]!;
          out.push((c.isCut(m.from, m.to) ? 'DROP ' : '') + fmt(m));
          c.deliverAt(0);
        }
        if (out.length === 0) out.push('(quiet)');
        break;
      }
      case 'read-index': {
        const n = this.cluster().node(this.id(args[0]));
        n.raw.readIndex(args[1] ?? 'ctx');
        this.cluster().processReady(n);
        out.push('ok');
        break;
      }
      case 'read-states': {
        const n = this.cluster().node(this.id(args[0]));
        for (const rs of n.readStates) out.push(`ctx=${rs.requestCtx} index=${rs.index}`);
        if (n.readStates.length === 0) out.push('(none)');
        n.readStates = [];
        break;
      }
      case 'transfer-leader': {
        const n = this.cluster().node(this.id(args[0]));
        n.raw.transferLeader(this.id(args[1]));
        this.cluster().processReady(n);
        out.push('ok');
        break;
      }
      case 'status': {
        for (const a of args) {
          const s = this.cluster().node(this.id(a)).raw.status();
          out.push(
            `${a}: ${s.role} term=${s.term} vote=${short(s.vote)} lead=${short(s.lead)} commit=${s.commit} applied=${s.applied} last=${s.lastIndex}`,
          );
        }
        break;
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
    return out;
  }
}

interface Block {
  comments: string[];
  cmd: string;
  expected: string;
}

function parse(src: string): Block[] {
  const blocks: Block[] = [];
  for (const chunk of src.split(/\n\s*\n/)) {
    const all = chunk.split('\n');
    const comments = all.filter((l) => l.startsWith('#'));
    const lines = all.filter((l) => !l.startsWith('#'));
    if (lines.every((l) => l.trim() === '')) {
      if (comments.length > 0) blocks.push({ comments, cmd: '', expected: '' });
      continue;
    }
    const sep = lines.indexOf('----');
    if (sep < 0) throw new Error(`block without ----: ${chunk}`);
    blocks.push({ comments, cmd: lines.slice(0, sep).join(' ').trim(), expected: lines.slice(sep + 1).join('\n').trim() });
  }
  return blocks;
}

describe('transcripts', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt'));
  it.each(files)('%s', (file) => {
    const path = join(dir, file);
    const src = readFileSync(path, 'utf8');
    const runner = new Runner();
    const rewrite = process.env['RAFT_TRANSCRIPT_REWRITE'] === '1';
    const out: string[] = [];
    for (const b of parse(src)) {
      if (b.cmd === '') {
        out.push(b.comments.join('\n'));
        continue;
      }
      const [cmd, ...args] = b.cmd.split(/\s+/);
      const actual = runner.run(cmd!, args).join('\n');
      out.push([...b.comments, b.cmd, '----', actual].join('\n'));
      if (!rewrite) expect(actual, `${file}: ${b.cmd}`).toBe(b.expected);
    }
    if (rewrite) writeFileSync(path, out.join('\n\n') + '\n');
  });
});
