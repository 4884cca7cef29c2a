// The one `raftgate` command. Each subcommand lives in its own module and is
// loaded only when used, so `raftgate --help` and `raftgate wal verify` start
// fast and do not pull in fastify.

import { readFileSync } from 'node:fs';

interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  core: {
    summary: 'run a core member (etcd-compatible flags: --name, --data-dir, --listen-client-urls, ...)',
    usage: 'raftgate core [flags]   (raftgate core --help lists every flag)',
    run: async (args) => (await import('./core.js')).runCoreCommand(args),
  },
  proxy: {
    summary: 'run a proxy: cached reads, one upstream watch, limits (--mode, --listen-client-urls, --endpoints, ...)',
    usage: 'raftgate proxy --endpoints URLS [flags]   (raftgate proxy --help lists every flag)',
    run: async (args) => (await import('./proxy.js')).runProxyCommand(args),
  },
  dev: {
    summary: 'run a local cluster on loopback for development (what `npm start` runs)',
    usage: 'raftgate dev [flags]',
    run: async (args) => (await import('./dev.js')).runDevCommand(args),
  },
  status: {
    summary: 'a table of members (leader, Raft term and indexes, data size) and proxies (staleness, watchers); -w json',
    usage: 'raftgate status [--endpoints URL[,URL...]] [-w table|json]',
    run: async (args) => (await import('./status.js')).runStatusCommand(args),
  },
  snapshot: {
    summary: '`snapshot save FILE` downloads a checked snapshot from a member; `snapshot restore FILE --data-dir ...` starts a new cluster from it',
    usage: 'raftgate snapshot save|restore FILE ...',
    run: async (args) => (await import('./snapshot.js')).runSnapshotCommand(args),
  },
  wal: {
    summary: '`wal verify DATA_DIR` checks every WAL record and snapshot; `wal repair DATA_DIR` cuts at damage',
    usage: 'raftgate wal verify|repair DATA_DIR',
    run: async (args) => (await import('./wal.js')).runWalCommand(args),
  },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function help(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    `raftgate ${version()} — an etcd-v2-compatible key-value store and its proxy tier`,
    '',
    'Usage: raftgate <command> [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    'Flags may also come from RAFTGATE_* environment variables or --config-file (YAML/JSON).',
    'Run `raftgate <command> --help` for a command\'s flags.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  if (name === '--version' || name === 'version') {
    console.log(version());
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    console.error(`raftgate: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  return cmd.run(rest);
}

// A child of `raftgate dev` stops when dev does, even if dev was killed with
// SIGKILL and could not stop it: dev holds the write end of our stdin, and
// the kernel closes it when dev dies.
if (process.env.RAFTGATE_EXIT_WITH_PARENT === '1') {
  process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
  process.stdin.resume();
}

main(process.argv.slice(2)).then(
  (code) => {
    // A server command resolves only when it has shut down cleanly.
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { code?: string; message?: string };
    console.error(`raftgate: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}`);
    process.exitCode = 1;
  },
);
