// `raftgate core`: run one member until SIGINT/SIGTERM, then stop cleanly.

import { loadConfig, helpText, ConfigError, exitCodeFor } from '../config/index.js';
import { startCoreServer } from '../core-server/server.js';

export async function runCoreCommand(args: string[]): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig('core', { argv: args, env: process.env, cwd: process.cwd() });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`raftgate: ${err.message}`);
      return exitCodeFor(err);
    }
    throw err;
  }
  if (loaded.help) {
    console.log(helpText('core'));
    return 0;
  }
  if (loaded.positionals.length > 0) {
    console.error(`raftgate: core takes no positional arguments, got "${loaded.positionals.join(' ')}"`);
    return 2;
  }
  for (const w of loaded.warnings) console.error(`raftgate: warning: ${w}`);

  const server = await startCoreServer(loaded.config);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
