// `npm run bench -- <mode> [flags]`: single, cluster or proxy.
//
//   single   one Raftgate core member against one etcd 3.4 member (bench/single.ts)
//   cluster  a 3-member Raftgate core against a 3-member etcd 3.4, and leader failover (bench/cluster.ts)
//   proxy    the Raftgate proxy against etcd direct and etcd's v2 proxy: cached GETs,
//            watch fan-out, memory per watcher, core CPU per request (bench/proxy.ts)
//
// Each mode runs the systems one after the other, never at once, and appends
// a dated section to bench/RESULTS.md. Benchmarks are not tests: nothing
// here fails on timing. A mode exits non-zero only when it could not run at all.

import { stopAll } from './lib/procs.js';
import { single, singleUsage } from './single.js';
import { cluster, clusterUsage } from './cluster.js';
import { proxy, proxyUsage } from './proxy.js';

const modes: Readonly<Record<string, { run: (args: string[]) => Promise<number>; usage: string }>> = {
  single: { run: single, usage: singleUsage },
  cluster: { run: cluster, usage: clusterUsage },
  proxy: { run: proxy, usage: proxyUsage },
};

const usage = `Usage: npm run bench -- single|cluster|proxy [flags]   (--help after a mode lists its flags)

${Object.values(modes).map((m) => m.usage).join('\n\n')}

etcd comes from $ETCD_BIN or /usr/bin/etcd.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage);
    return cmd === undefined ? 2 : 0;
  }
  const mode = modes[cmd];
  if (mode === undefined) {
    console.error(`bench: unknown benchmark "${cmd}" (known: ${Object.keys(modes).join(', ')})\n\n${usage}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(mode.usage);
    return 0;
  }
  return mode.run(rest);
}

main(process.argv.slice(2)).then(
  async (code) => {
    await stopAll();
    process.exitCode = code;
  },
  async (err: unknown) => {
    await stopAll();
    console.error(`bench: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
