/**
 * In a cluster a broker holds only the partitions it is a replica of, opened as the metadata
 * assigns them; a topic re-created under the same name (a new topic id) never inherits the
 * old one's records.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import type { TopicRecord } from '../../../../broker/topics/topic-store.js';
import { testBatch } from '../../../helpers/batches.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-replicas-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

const record = (topicId: string): TopicRecord => ({ name: 'orders', partitions: 4, configs: {}, createdAtMs: 0, topicId });
const clustered = () => new TopicManager(directory, {}, () => {}, {}, true);

describe('replicas of a clustered broker', () => {
  it('holds only the assigned partitions and looks them up by index', () => {
    const topics = clustered();
    topics.openReplica(record('a'), 3);
    topics.openReplica(record('a'), 1);
    const topic = topics.get('orders');
    expect(topic.partitions.map((partition) => partition.index)).toEqual([1, 3]);
    expect(topic.partitionAt(3)?.index).toBe(3);
    expect(topic.partitionAt(2)).toBeUndefined();
    const notHere = (() => { try { topics.partition('orders', 2); } catch (error) { return error; } })();
    expect(SluiceError.is(notHere) && notHere.code).toBe('SLUICE_ERR_NOT_LEADER_OR_FOLLOWER');
    const outside = (() => { try { topics.partition('orders', 4); } catch (error) { return error; } })();
    expect(SluiceError.is(outside) && outside.code).toBe('SLUICE_ERR_UNKNOWN_TOPIC_OR_PARTITION');
    topics.close();
  });

  it('reopens its own log after a restart and empties a directory of an earlier topic id', () => {
    let topics = clustered();
    const end = topics.openReplica(record('a'), 0).log.append(testBatch(3)).lastOffset + 1;
    topics.close();

    topics = clustered();
    expect(topics.topics()).toEqual([]);
    expect(topics.openReplica(record('a'), 0).log.logEndOffset).toBe(end);
    topics.close();

    topics = clustered();
    expect(topics.openReplica(record('b'), 0).log.logEndOffset).toBe(0);
    topics.close();
  });

  it('removes a replica it no longer holds, files and all', () => {
    const topics = clustered();
    topics.openReplica(record('a'), 0).log.append(testBatch(2));
    topics.openReplica(record('a'), 1);
    topics.removeReplica('orders', 0);
    expect(topics.get('orders').partitions.map((partition) => partition.index)).toEqual([1]);
    expect(fs.readdirSync(directory).filter((name) => name.startsWith('orders-0'))).toEqual([]);
    topics.close();
  });

  it('refuses local topic creation: in a cluster the controller creates topics', () => {
    const topics = clustered();
    const refused = (() => { try { topics.create('local', 1, {}); } catch (error) { return error; } })();
    expect(SluiceError.is(refused) && refused.code).toBe('SLUICE_ERR_NOT_CONTROLLER');
    expect(fs.existsSync(path.join(directory, 'local-0'))).toBe(false);
    topics.close();
  });
});
