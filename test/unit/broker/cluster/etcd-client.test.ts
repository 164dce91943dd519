import { describe, expect, it } from 'vitest';
import { createEtcdClient, etcdHost } from '../../../../broker/cluster/etcd-client.js';
import { storeError } from '../../../../broker/cluster/store-error.js';
import { SluiceError } from '../../../../proto/errors.js';

describe('etcd client settings', () => {
  it('accepts host:port, etcd:// and http:// endpoints', () => {
    expect(etcdHost('127.0.0.1:2379')).toBe('http://127.0.0.1:2379');
    expect(etcdHost('etcd://10.0.0.1:2379')).toBe('http://10.0.0.1:2379');
    expect(etcdHost(' https://e:1 ')).toBe('https://e:1');
  });

  it('needs an endpoint', () => {
    expect(() => createEtcdClient([], 100)).toThrow(expect.objectContaining({ code: 'SLUICE_ERR_CONFIG' }));
  });

  it('turns any failure into a retriable METADATA_STORE error, and keeps Sluice errors as they are', () => {
    expect(storeError('AlterPartition', new Error('14 UNAVAILABLE'))).toMatchObject({ code: 'SLUICE_ERR_METADATA_STORE', retriable: true });
    const own = new SluiceError('SLUICE_ERR_NOT_CONTROLLER', 'no');
    expect(storeError('x', own)).toBe(own);
  });
});
