import { describe, expect, it } from 'vitest';
import { validateAlterPartition } from '../../../../broker/cluster/isr-rules.js';
import type { IsrProposal } from '../../../../broker/cluster/partition-state.js';
import { brokers, state } from './helpers.js';

function proposal(fields: Partial<IsrProposal> = {}): IsrProposal {
  return { topic: 't', partition: 0, leaderId: 1, leaderEpoch: 5, partitionEpoch: 9, isr: [1, 2], brokerEpochs: { 1: 101, 2: 102 }, ...fields };
}

const live = brokers(1, 2, 3);

describe('AlterPartition validation, in Kafka order', () => {
  it('accepts a valid shrink: ISR replaced, partition epoch +1, leader epoch unchanged', () => {
    expect(validateAlterPartition(state(), proposal(), live)).toEqual({ ok: true, state: { ...state(), isr: [1, 2], partitionEpoch: 10 } });
  });

  it.each([
    ['unknown partition', undefined, proposal(), 'SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION'],
    ['leader epoch ahead', state(), proposal({ leaderEpoch: 6 }), 'SLUICE_ERR_NOT_CONTROLLER'],
    ['partition epoch ahead', state(), proposal({ partitionEpoch: 10 }), 'SLUICE_ERR_NOT_CONTROLLER'],
    ['leader epoch behind (even from a non-leader)', state(), proposal({ leaderEpoch: 4, leaderId: 2 }), 'SLUICE_ERR_FENCED_LEADER_EPOCH'],
    ['sender not leader (before a stale partition epoch)', state(), proposal({ leaderId: 2, partitionEpoch: 8 }), 'SLUICE_ERR_INVALID_REQUEST'],
    ['partition epoch behind', state(), proposal({ partitionEpoch: 8 }), 'SLUICE_ERR_INVALID_UPDATE_VERSION'],
    ['ISR not a subset of replicas', state(), proposal({ isr: [1, 4] }), 'SLUICE_ERR_INVALID_REQUEST'],
    ['ISR without the leader', state(), proposal({ isr: [2, 3] }), 'SLUICE_ERR_INVALID_REQUEST'],
    ['duplicate ISR members', state(), proposal({ isr: [1, 1] }), 'SLUICE_ERR_INVALID_REQUEST'],
    ['recovering leader growing the ISR', state({ leaderRecoveryState: 'recovering', isr: [1] }), proposal(), 'SLUICE_ERR_INVALID_REQUEST'],
    ['recovered back to recovering', state(), proposal({ isr: [1], leaderRecoveryState: 'recovering' }), 'SLUICE_ERR_INVALID_REQUEST'],
    ['member not registered', state(), proposal({ isr: [1, 2, 3] }), 'SLUICE_ERR_INELIGIBLE_REPLICA', brokers(1, 2)],
    ['member shutting down', state(), proposal(), 'SLUICE_ERR_INELIGIBLE_REPLICA', brokers(1, [2, { shuttingDown: true }], 3)],
    ['member with another broker epoch', state(), proposal({ brokerEpochs: { 1: 101, 2: 7 } }), 'SLUICE_ERR_INELIGIBLE_REPLICA'],
  ])('%s', (_name, stored, request, code, registered = live) => {
    expect(validateAlterPartition(stored, request, registered)).toMatchObject({ ok: false, code });
  });

  it('lets a recovering leader mark itself recovered, and an unknown broker epoch (−1) through', () => {
    const recovering = state({ leaderRecoveryState: 'recovering', isr: [1] });
    expect(validateAlterPartition(recovering, proposal({ isr: [1], leaderRecoveryState: 'recovered' }), live)).toMatchObject({ ok: true, state: { leaderRecoveryState: 'recovered' } });
    expect(validateAlterPartition(state(), proposal({ brokerEpochs: { 1: -1 } }), live)).toMatchObject({ ok: true });
  });
});
