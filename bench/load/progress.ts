/**
 * Progress of a bench run: a live line redrawn about once a second on a terminal, a plain
 * line every few seconds otherwise (CI logs), nothing at all with --quiet.
 */
import type { LatencySummary } from './result.js';

export interface ProgressSnapshot {
  elapsedS: number;
  records: number;
  bytes: number;
  latency: LatencySummary | undefined;
  target: number | undefined;
  durationS: number | undefined;
}

export interface Progress {
  note(text: string): void;
  update(snapshot: ProgressSnapshot): void;
  done(): void;
  silent(): Progress;
}

const plainEverySeconds = 5;

function describe(snapshot: ProgressSnapshot, previous: { records: number; bytes: number; elapsedS: number }): string {
  const window = Math.max(1e-3, snapshot.elapsedS - previous.elapsedS);
  const rate = (snapshot.records - previous.records) / window;
  const mbps = (snapshot.bytes - previous.bytes) / 1024 ** 2 / window;
  const fraction = snapshot.target !== undefined && snapshot.target > 0 ? snapshot.records / snapshot.target
    : snapshot.durationS !== undefined ? snapshot.elapsedS / snapshot.durationS : undefined;
  const averageRate = snapshot.records / Math.max(1e-3, snapshot.elapsedS);
  const eta = fraction === undefined || fraction <= 0 ? '' : snapshot.target !== undefined
    ? ` ETA ${Math.max(0, (snapshot.target - snapshot.records) / Math.max(1, averageRate)).toFixed(0)}s`
    : ` ETA ${Math.max(0, snapshot.durationS! - snapshot.elapsedS).toFixed(0)}s`;
  const latency = snapshot.latency === undefined ? '' : ` p50 ${snapshot.latency.p50Ms.toFixed(2)} ms p99 ${snapshot.latency.p99Ms.toFixed(2)} ms`;
  const percent = fraction === undefined ? '' : ` ${(Math.min(1, fraction) * 100).toFixed(0)}%`;
  return `${snapshot.elapsedS.toFixed(0)}s${percent} ${Math.round(rate).toLocaleString('en-US')} rec/s ${mbps.toFixed(1)} MB/s${latency}${eta}`;
}

export function createProgress(mode: 'tty' | 'plain' | 'quiet', stream: NodeJS.WriteStream = process.stderr): Progress {
  let previous = { records: 0, bytes: 0, elapsedS: 0 };
  let lastPlain = 0;
  let live = false;
  const progress: Progress = {
    note(text) {
      if (mode === 'quiet') return;
      if (live) stream.write('\r\x1b[2K');
      live = false;
      stream.write(`${text}\n`);
    },
    update(snapshot) {
      if (mode === 'quiet') return;
      if (mode === 'tty') {
        stream.write(`\r\x1b[2K${describe(snapshot, previous)}`);
        live = true;
        previous = { records: snapshot.records, bytes: snapshot.bytes, elapsedS: snapshot.elapsedS };
      } else if (snapshot.elapsedS - lastPlain >= plainEverySeconds) {
        stream.write(`${describe(snapshot, previous)}\n`);
        lastPlain = snapshot.elapsedS;
        previous = { records: snapshot.records, bytes: snapshot.bytes, elapsedS: snapshot.elapsedS };
      }
    },
    done() {
      if (live) stream.write('\n');
      live = false;
    },
    silent: () => createProgress('quiet', stream),
  };
  return progress;
}
