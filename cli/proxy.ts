// `raftgate proxy`: run one proxy until SIGINT/SIGTERM, then stop cleanly.

import { loadCommandConfig } from './load-config.js';
import { startProxyServer } from '../proxy/server.js';

export async function runProxyCommand(args: string[]): Promise<number> {
  const config = loadCommandConfig('proxy', args);
  if (typeof config === 'number') return config;

  const server = await startProxyServer(config);
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
