// `raftgate core`: run one member until SIGINT/SIGTERM, then stop cleanly.

import { loadCommandConfig } from './load-config.js';
import { startCoreServer } from '../core-server/server.js';

export async function runCoreCommand(args: string[]): Promise<number> {
  const config = loadCommandConfig('core', args);
  if (typeof config === 'number') return config;

  const server = await startCoreServer(config);
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
