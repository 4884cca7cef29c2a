// A child process owned by a test: bounded capture of its output, stop by pid
// (SIGTERM, then SIGKILL after a bound), and a description for failure
// messages. Only ever signals the pid it spawned.
import { spawn, type ChildProcess } from 'node:child_process';

const outputBytesMax = 64 * 1024;

/** Keeps the last `bytesMax` bytes written to it. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly bytesMax = outputBytesMax) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes > this.bytesMax && this.chunks.length > 1) {
      const dropped = this.chunks.shift();
      this.bytes -= dropped?.length ?? 0;
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.bytesMax)).toString('utf8');
  }
}

export interface ManagedProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly output: TailBuffer;
  alive(): boolean;
  /** The command line, exit status and the tail of stdout/stderr. */
  describe(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once; resolves once the process exited. */
  kill9(): Promise<void>;
  /** Sends a signal (SIGSTOP/SIGCONT to freeze and thaw it); nothing if it has exited. */
  signal(sig: NodeJS.Signals): void;
}

export function spawnManaged(command: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ManagedProcess {
  const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not spawn ${command}`);
  const pid = child.pid;
  const output = new TailBuffer();
  child.stdout?.on('data', (c: Buffer) => output.push(c));
  child.stderr?.on('data', (c: Buffer) => output.push(c));
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = signal !== null ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exit = `spawn error: ${err.message}`;
      resolve();
    });
  });
  const alive = (): boolean => exit === undefined;

  const waitExit = async (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
    const done = await Promise.race([exited.then(() => true), timedOut]);
    clearTimeout(timer);
    return done;
  };

  const signal = (sig: NodeJS.Signals): void => {
    if (!alive()) return;
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone between the check and the signal.
    }
  };

  return {
    pid,
    child,
    output,
    alive,
    describe: () =>
      `command: ${command} ${args.join(' ')}\npid: ${pid}, ${exit === undefined ? 'running' : `exited (${exit})`}\n--- output (tail) ---\n${output.text()}`,
    async stop(graceMs = 5_000) {
      if (!alive()) return;
      signal('SIGTERM');
      if (await waitExit(graceMs)) return;
      signal('SIGKILL');
      if (!(await waitExit(5_000))) throw new Error(`pid ${pid} did not exit after SIGKILL`);
    },
    signal,
    async kill9() {
      if (!alive()) return;
      signal('SIGKILL');
      if (!(await waitExit(5_000))) throw new Error(`pid ${pid} did not exit after SIGKILL`);
    },
  };
}
