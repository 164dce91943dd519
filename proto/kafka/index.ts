/**
 * Kafka's wire protocol for Sluice's Kafka listener: schemas for every API served, the codec
 * derived from them, headers and the registry of served versions. One import for the listener.
 */
export * from './apis.js';
export * from './codec.js';
export * from './error-codes.js';
export * from './header.js';
export * from './schema.js';
export * from './messages/api-versions.js';
export * from './messages/create-partitions.js';
export * from './messages/create-topics.js';
export * from './messages/delete-groups.js';
export * from './messages/delete-records.js';
export * from './messages/delete-topics.js';
export * from './messages/describe-cluster.js';
export * from './messages/describe-configs.js';
export * from './messages/describe-groups.js';
export * from './messages/fetch.js';
export * from './messages/find-coordinator.js';
export * from './messages/heartbeat.js';
export * from './messages/incremental-alter-configs.js';
export * from './messages/init-producer-id.js';
export * from './messages/join-group.js';
export * from './messages/leave-group.js';
export * from './messages/list-groups.js';
export * from './messages/list-offsets.js';
export * from './messages/metadata.js';
export * from './messages/offset-commit.js';
export * from './messages/offset-fetch.js';
export * from './messages/offset-for-leader-epoch.js';
export * from './messages/produce.js';
export * from './messages/sync-group.js';
