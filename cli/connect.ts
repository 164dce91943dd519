/**
 * The client a command talks to the cluster with, from the command's --bootstrap list. The client
 * is imported when a command first connects, not when the CLI starts: `sluice --help` and usage
 * errors then answer in a fraction of the time.
 */
import type { Command } from 'commander';
import type { Admin } from '../client/admin.js';
import type { Sluice } from '../client/sluice.js';

export async function connect(command: Command): Promise<Sluice> {
  const { bootstrap } = command.optsWithGlobals<{ bootstrap: string }>();
  const { Sluice } = await import('../client/sluice.js');
  return new Sluice({ bootstrap, clientId: 'sluice-cli', connectTimeoutMs: 3000 });
}

/** Runs `work` with an admin client, closing the connection afterwards. */
export async function withAdmin(command: Command, work: (admin: Admin) => Promise<void>): Promise<void> {
  const sluice = await connect(command);
  try {
    await work(sluice.admin());
  } finally {
    await sluice.close();
  }
}
