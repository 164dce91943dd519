/** The client a command talks to the cluster with, from the command's --bootstrap list. */
import type { Command } from 'commander';
import type { Admin } from '../client/admin.js';
import { Sluice } from '../client/sluice.js';

export function connect(command: Command): Sluice {
  const { bootstrap } = command.optsWithGlobals<{ bootstrap: string }>();
  return new Sluice({ bootstrap, clientId: 'sluice-cli', connectTimeoutMs: 3000 });
}

/** Runs `work` with an admin client, closing the connection afterwards. */
export async function withAdmin(command: Command, work: (admin: Admin) => Promise<void>): Promise<void> {
  const sluice = connect(command);
  try {
    await work(sluice.admin());
  } finally {
    await sluice.close();
  }
}
