// A progress line for long operator commands (snapshot save and restore):
// redrawn in place on a terminal, a line every 25% otherwise, so a log of a
// scripted run still shows that something is happening.

const BAR_WIDTH = 30;

function mib(n: number): string {
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

export interface Progress {
  update(done: number): void;
  finish(note?: string): void;
}

export function progressBar(label: string, total: number, out: NodeJS.WriteStream = process.stderr): Progress {
  const tty = out.isTTY === true;
  let lastQuarter = -1;
  const line = (done: number) => {
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(frac * BAR_WIDTH);
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${mib(done)} of ${mib(total)}`;
  };
  return {
    update(done) {
      if (tty) {
        out.write(`\r\x1b[2K${line(done)}`);
        return;
      }
      const quarter = total > 0 ? Math.floor((4 * Math.min(done, total)) / total) : 4;
      if (quarter !== lastQuarter) {
        lastQuarter = quarter;
        out.write(`${line(done)}\n`);
      }
    },
    finish(note) {
      if (tty) out.write(`\r\x1b[2K${line(total)}${note ? ` ${note}` : ''}\n`);
      else out.write(`${line(total)}${note ? ` ${note}` : ''}\n`);
    },
  };
}
