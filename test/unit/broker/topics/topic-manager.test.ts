/**
 * Creating a topic opens every partition log first and saves the topic's record last: a create
 * that fails half-way (here the fifth partition cannot create its segment, as under EMFILE)
 * leaves no record, no directory and no open descriptor, and a restart opens what is left.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../../../../proto/errors.js';
import { TopicManager } from '../../../../broker/topics/topic-manager.js';
import { testBatch } from '../../../helpers/batches.js';
import { descriptorsUnder, mappingsUnder } from '../../../helpers/proc.js';

let directory: string;
beforeEach(() => { directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-topics-')); });
afterEach(() => fs.rmSync(directory, { recursive: true, force: true }));

function emfile(): SluiceError {
  return new SluiceError('SLUICE_ERR_STORAGE', 'cannot open segment file: EMFILE', { cause: Object.assign(new Error('EMFILE'), { code: 'EMFILE' }) });
}

function managerFailingAt(failAt: { creation: number }) {
  let creations = 0;
  const errors: unknown[] = [];
  const manager = new TopicManager(directory, {}, (error) => errors.push(error), {
    hooks: {
      beforeSegmentCreate: () => {
        creations += 1;
        if (creations === failAt.creation) throw emfile();
      },
    },
  });
  return { manager, errors };
}

describe('TopicManager', () => {
  it('a create that fails half-way leaves no record, no directory and no descriptor behind', () => {
    const failAt = { creation: 0 };
    const { manager } = managerFailingAt(failAt);
    manager.open();
    manager.create('kept', 2, {});
    const before = descriptorsUnder(directory).length;

    failAt.creation = 2 + 5;
    const error = (() => { try { manager.create('wide', 8, {}); } catch (caught) { return caught; } })();
    expect(error).toMatchObject({ code: 'SLUICE_ERR_STORAGE', retriable: true });
    expect((error as SluiceError).detail).toMatch(/topic wide: partition 4 of 8 could not be opened.*EMFILE/);
    expect(manager.find('wide')).toBeUndefined();
    expect(fs.readdirSync(path.join(directory, 'topics'))).toEqual(['kept.json']);
    expect(fs.readdirSync(directory).filter((name) => name.startsWith('wide'))).toEqual([]);
    expect(descriptorsUnder(directory)).toHaveLength(before);
    expect(mappingsUnder(path.join(directory, 'wide'))).toEqual([]);

    // The cause gone, the same create succeeds.
    manager.create('wide', 8, {});
    manager.partition('wide', 7).log.append(testBatch(0));
    manager.close();
    expect(descriptorsUnder(directory)).toEqual([]);

    const restarted = new TopicManager(directory, {}, () => {});
    restarted.open();
    expect(restarted.topics().map((topic) => topic.record.name)).toEqual(['kept', 'wide']);
    expect(restarted.partition('wide', 7).log.logEndOffset).toBe(10);
    restarted.close();
  });

  it('deleting a topic frees its mappings and files at once', () => {
    const manager = new TopicManager(directory, {}, () => {});
    manager.open();
    manager.create('doomed', 3, {});
    for (let partition = 0; partition < 3; partition += 1) manager.partition('doomed', partition).log.append(testBatch(partition));
    expect(mappingsUnder(directory).length).toBeGreaterThanOrEqual(3);
    manager.delete('doomed');
    // Only the topics directory stays open: the store syncs it through one held descriptor.
    expect(descriptorsUnder(directory)).toEqual([path.join(directory, 'topics')]);
    expect(mappingsUnder(directory)).toEqual([]);
    expect(fs.readdirSync(directory).sort()).toEqual(['topics']);
    manager.close();
  });

  it('a start that cannot open a topic closes what it opened and says which partition failed', () => {
    const setup = new TopicManager(directory, {}, () => {});
    setup.open();
    setup.create('a', 2, {});
    setup.create('b', 2, {});
    setup.close();
    // A file stands where partition 1 of b keeps its segments.
    fs.rmSync(path.join(directory, 'b-1'), { recursive: true });
    fs.writeFileSync(path.join(directory, 'b-1'), 'not a directory');
    const manager = new TopicManager(directory, {}, () => {});
    expect(() => manager.open()).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_STORAGE', message: expect.stringMatching(/topic b: partition 1 of 2/) }));
    expect(descriptorsUnder(directory)).toEqual([]);
  });
});
