import { parseArgs } from 'node:util';
import { Sluice } from '../client/sluice.js';

const usage = 'usage: sluice topics create NAME --partitions N [--config k=v ...] | list | describe NAME | delete NAME [--bootstrap HOST:PORT]';

function parseConfigs(entries: string[]): Record<string, string> {
  const configs: Record<string, string> = {};
  for (const entry of entries) {
    const separator = entry.indexOf('=');
    if (separator <= 0) throw new Error(`--config takes key=value, got "${entry}"`);
    configs[entry.slice(0, separator)] = entry.slice(separator + 1);
  }
  return configs;
}

export async function topicsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bootstrap: { type: 'string', default: '127.0.0.1:9400' },
      partitions: { type: 'string', default: '1' },
      config: { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean', default: false },
    },
  });
  const [action, name] = positionals;
  const needName = (): string => {
    if (name === undefined) throw new Error(usage);
    return name;
  };
  const sluice = new Sluice({ bootstrap: values.bootstrap, clientId: 'sluice-cli', connectTimeoutMs: 3000 });
  const admin = sluice.admin();
  try {
    switch (action) {
      case 'create': {
        const partitions = Number(values.partitions);
        await admin.createTopic(needName(), { partitions, configs: parseConfigs(values.config) });
        process.stdout.write(`created topic ${name} with ${partitions} partition${partitions === 1 ? '' : 's'}\n`);
        break;
      }
      case 'list':
        for (const topic of await admin.listTopics()) process.stdout.write(`${topic}\n`);
        break;
      case 'describe': {
        const description = await admin.describeTopic(needName());
        if (values.json) {
          process.stdout.write(`${JSON.stringify(description)}\n`);
          break;
        }
        process.stdout.write(`topic ${description.name}: ${description.partitions.length} partitions\n`);
        process.stdout.write('partition  leader  start-offset  end-offset\n');
        for (const partition of description.partitions) {
          process.stdout.write(`${String(partition.partition).padStart(9)}  ${String(partition.leader).padStart(6)}  ${String(partition.logStartOffset).padStart(12)}  ${String(partition.logEndOffset).padStart(10)}\n`);
        }
        break;
      }
      case 'delete':
        await admin.deleteTopic(needName());
        process.stdout.write(`deleted topic ${name}\n`);
        break;
      default:
        throw new Error(usage);
    }
  } finally {
    await sluice.close();
  }
}
