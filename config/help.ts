// `raftgate <kind> --help`, generated from the schema so it cannot go stale.

import { describeFields, type ProcessKind } from './schema.js';
import { CONFIG_FILE_ENV } from './env.js';

const summaries: Readonly<Record<ProcessKind, string>> = {
  core: 'Run one member of a Raftgate core cluster (etcd-compatible flags).',
  proxy: 'Run a Raftgate proxy in front of a core cluster.',
  dev: 'Run a local core cluster and proxies on loopback for development.',
};

export function helpText(kind: ProcessKind): string {
  const lines = [
    `Usage: raftgate ${kind} [flags]`,
    '',
    summaries[kind],
    '',
    'Every flag can also be set as an environment variable or a config-file key.',
    'Precedence: flag > environment > config file > default.',
    'Durations: 250ms, 1s, 1m30s, or a number of milliseconds. Sizes: 4096, 512KiB, 1.5MiB, 1GiB.',
    '',
    'Flags:',
    `  --config-file PATH   (env ${CONFIG_FILE_ENV})`,
    '      YAML or JSON file whose keys are config keys (camelCase) or flag names.',
  ];
  for (const d of describeFields(kind)) {
    const dflt = d.required ? 'required' : d.default === '' ? 'no default' : `default ${d.default}`;
    lines.push(`  ${d.flag} ${d.type}   (env ${d.env}; ${dflt})`, `      ${d.description}`);
  }
  lines.push('  -h, --help', '      Show this help.');
  return lines.join('\n') + '\n';
}
