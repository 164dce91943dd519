/** The benchmarks' seeded PRNG, so a failing random test replays from its logged seed. */
export { seededRandom } from '../../bench/seeded-random.js';
