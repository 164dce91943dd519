/**
 * Creating a topic of many partitions off the request path (TopicManager.createAsync): the topic
 * appears only once every partition is ready; a create past the partition budget is refused
 * with nothing made; a failure after the partitions were opened takes everything back; a start
 * finds an interrupted creation's note and removes what it made; and a lazy start opens no log
 * until its partition is used, recovering the unclean ones in the background.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import { testBatch } from '../../../helpers/batches.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-create-async-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

function manager(): TopicManager {
  const topics = new TopicManager(directory, {}, () => {});
  topics.open();
  return topics;
}

const partitionDirectories = (topic: string) => fs.readdirSync(directory).filter((name) => name.startsWith(`${topic}-`));
const topicFiles = (topic: string) => fs.readdirSync(path.join(directory, 'topics')).filter((name) => name.startsWith(topic));

describe('TopicManager.createAsync', () => {
  it('shows the topic only once every partition is ready, and gives the event loop back meanwhile', async () => {
    const topics = manager();
    let turns = 0;
    let seenEarly = false;
    const ticker = setInterval(() => {
      turns += 1;
      if (topics.find('wide') !== undefined && turns === 1) seenEarly = true;
    }, 0);
    const creating = topics.createAsync('wide', 300, {});
    expect(topics.find('wide')).toBeUndefined();
    expect(topics.partitionsHeld).toBe(300);
    const topic = await creating;
    clearInterval(ticker);
    expect(seenEarly).toBe(false);
    expect(turns).toBeGreaterThan(0);
    expect(topic.partitions).toHaveLength(300);
    expect(topicFiles('wide')).toEqual(['wide.json']);
    expect(topic.partitionAt(299)!.log.append(testBatch(1)).baseOffset).toBe(0);
    topics.close();
  });

  it('refuses a create past the partition budget, naming it, with nothing made', async () => {
    const topics = manager();
    topics.partitionBudget = { max: 100, source: '--max-partitions' };
    await topics.createAsync('first', 80, {});
    await expect(topics.createAsync('second', 30, {})).rejects.toMatchObject({
      code: 'SLUICE_ERR_POLICY_VIOLATION', message: expect.stringMatching(/to 110, past its budget of 100 partitions \(--max-partitions\).*--max-partitions/),
    });
    expect(partitionDirectories('second')).toEqual([]);
    expect(topicFiles('second')).toEqual([]);
    topics.close();
  });

  it('takes everything back when the record cannot be saved after all partitions opened', async () => {
    const topics = manager();
    // A directory where the record goes: the rename over it fails.
    fs.mkdirSync(path.join(directory, 'topics', 'doomed.json', 'in-the-way'), { recursive: true });
    await expect(topics.createAsync('doomed', 50, {})).rejects.toMatchObject({
      code: 'SLUICE_ERR_STORAGE', message: expect.stringMatching(/topic doomed: its partitions could not be saved; nothing was created/),
    });
    expect(topics.find('doomed')).toBeUndefined();
    expect(partitionDirectories('doomed')).toEqual([]);
    expect(topicFiles('doomed')).toEqual(['doomed.json']);
    expect(topics.partitionsHeld).toBe(0);
    topics.close();
  });

  it('a start removes what an interrupted creation made, and keeps a creation that saved its record', async () => {
    const topics = manager();
    await topics.createAsync('whole', 3, {});
    topics.close();
    // As a kill -9 leaves them: a note with its record saved, and a note with only directories.
    fs.writeFileSync(path.join(directory, 'topics', 'whole.creating'), JSON.stringify({ name: 'whole', partitions: 3 }));
    fs.writeFileSync(path.join(directory, 'topics', 'half.creating'), JSON.stringify({ name: 'half', partitions: 4 }));
    for (const index of [0, 1]) fs.mkdirSync(path.join(directory, `half-${index}`));
    const restarted = new TopicManager(directory, {}, () => {});
    const summary = restarted.open();
    expect(summary.creationsUndone).toEqual(['half']);
    expect(restarted.topics().map((topic) => topic.record.name)).toEqual(['whole']);
    expect(partitionDirectories('half')).toEqual([]);
    expect(fs.readdirSync(path.join(directory, 'topics')).filter((name) => name.endsWith('.creating'))).toEqual([]);
    restarted.close();
  });

  it('a lazy start opens a log on first use and recovers the unclean ones in the background', async () => {
    const topics = manager();
    const topic = await topics.createAsync('lazy', 4, {});
    for (const partition of topic.partitions) partition.log.append(testBatch(partition.index));
    const end = topic.partitionAt(0)!.log.logEndOffset;
    topics.close();
    // Partition 3 as a crash leaves it: no clean-shutdown marker.
    fs.rmSync(path.join(directory, 'lazy-3', '.clean-shutdown'));

    const restarted = new TopicManager(directory, {}, () => {});
    const summary = restarted.open({ lazy: true });
    expect(summary).toMatchObject({ partitions: 4, opened: 0, deferred: 3 });
    expect(summary.toRecover.map((partition) => partition.index)).toEqual([3]);
    const lazy = restarted.get('lazy');
    expect(lazy.partitions.every((partition) => partition.openedLog === undefined)).toBe(true);
    expect(lazy.partitionAt(1)!.log.logEndOffset).toBe(end);
    expect(lazy.partitionAt(0)!.openedLog).toBeUndefined();
    expect(await restarted.recoverInBackground(summary.toRecover)).toMatchObject({ recovered: 1, failed: 0 });
    expect(lazy.partitionAt(3)!.openedLog?.loadReport.clean).toBe(false);
    expect(lazy.partitionAt(3)!.log.logEndOffset).toBe(end);
    expect([...restarted.logs()]).toHaveLength(2);
    // What the broker does next, so retention reaches partitions nobody uses: the rest open in the background.
    expect(restarted.unopened().map((partition) => partition.index)).toEqual([0, 2]);
    expect(await restarted.recoverInBackground(restarted.unopened())).toMatchObject({ recovered: 2, failed: 0 });
    expect(restarted.unopened()).toEqual([]);
    expect([...restarted.logs()]).toHaveLength(4);
    restarted.close();
    expect(new TopicManager(directory, {}, () => {}).open({ lazy: true })).toMatchObject({ deferred: 4, toRecover: [] });
  });
});
