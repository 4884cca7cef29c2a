// Every server command loads its configuration the same way: a ConfigError
// prints `raftgate: <message>` and exits 2; --help prints the flags and
// exits 0; warnings are printed and do not stop the process.

import { loadConfig, helpText, ConfigError, exitCodeFor, type ConfigFor, type ProcessKind } from '../config/index.js';

/** The config, or the exit code the command should return at once. */
export function loadCommandConfig<K extends ProcessKind>(kind: K, args: string[]): ConfigFor<K> | number {
  let loaded;
  try {
    loaded = loadConfig(kind, { argv: args, env: process.env, cwd: process.cwd() });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`raftgate: ${err.message}`);
      return exitCodeFor(err);
    }
    throw err;
  }
  if (loaded.help) {
    console.log(helpText(kind));
    return 0;
  }
  if (loaded.positionals.length > 0) {
    console.error(`raftgate: ${kind} takes no positional arguments, got "${loaded.positionals.join(' ')}"`);
    return 2;
  }
  for (const w of loaded.warnings) console.error(`raftgate: warning: ${w}`);
  return loaded.config;
}
