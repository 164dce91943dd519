import type { PartitionState } from '../../../../broker/cluster/partition-state.js';
import type { BrokerRegistration } from '../../../../broker/cluster/records.js';

export function state(fields: Partial<PartitionState> = {}): PartitionState {
  return {
    topic: 't', partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 5, partitionEpoch: 9,
    leaderRecoveryState: 'recovered', ...fields,
  };
}

export function brokers(...ids: Array<number | [number, Partial<BrokerRegistration>]>): Map<number, BrokerRegistration> {
  const map = new Map<number, BrokerRegistration>();
  for (const entry of ids) {
    const [id, extra] = Array.isArray(entry) ? entry : [entry, {}];
    map.set(id, { nodeId: id, host: '127.0.0.1', port: 9000 + id, brokerEpoch: 100 + id, shuttingDown: false, ...extra });
  }
  return map;
}
