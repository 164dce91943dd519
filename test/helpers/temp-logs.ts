/**
 * Logs in temporary directories for storage unit tests: every directory made and log opened
 * through `tempLogs()` is closed and removed after each test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import { Log, type LogOptions } from '../../broker/storage/log.js';

export function tempLogs(prefix: string): { tempDirectory: () => string; open: (directory: string, options?: LogOptions) => Log } {
  const directories: string[] = [];
  const logs: Log[] = [];
  afterEach(() => {
    for (const log of logs.splice(0)) {
      try {
        log.close();
      } catch {
        // closed by the test already
      }
    }
    for (const directory of directories.splice(0)) fs.rmSync(directory, { recursive: true, force: true });
  });
  return {
    tempDirectory: () => {
      const directory = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      directories.push(directory);
      return directory;
    },
    open: (directory, options = {}) => {
      const log = Log.open(directory, options);
      logs.push(log);
      return log;
    },
  };
}
