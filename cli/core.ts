// `raftgate core`: run one member until SIGINT/SIGTERM, then stop cleanly.
// A member that cannot go on (its disk failed, it was removed, its cluster
// refused it) stops with exit code 1 and says why.

import { loadCommandConfig } from './load-config.js';
import { startCoreServer } from '../core-server/server.js';

export async function runCoreCommand(args: string[]): Promise<number> {
  const config = loadCommandConfig('core', args);
  if (typeof config === 'number') return config;

  const server = await startCoreServer(config);
  return new Promise<number>((resolve) => {
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      server.close().then(
        () => resolve(code),
        () => resolve(code),
      );
    };
    const stop = () => finish(0);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    void server.failed.then((err) => {
      console.error(`raftgate: ${err.message}`);
      finish(1);
    });
  });
}
