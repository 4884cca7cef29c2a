// GET /raftgate/v1/native on the core's HTTP API: where a proxy finds the
// member's native-protocol address.

import { Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { buildCoreApp } from '../../../core-server/api/index.js';
import { makeHarness } from '../api/harness.js';
import { CLUSTER_ID, MEMBER_ID } from './harness.js';

describe('native discovery route', () => {
  test('answers the native URLs, member id and cluster id', async () => {
    const { node } = await makeHarness();
    const app = buildCoreApp({ node, registry: new Registry(), bodyBytesMax: 1 << 20, watchersMax: 10, nativeUrls: ['http://127.0.0.1:2381'] });
    const r = await app.inject({ method: 'GET', url: '/raftgate/v1/native' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json()).toEqual({ nativeUrls: ['http://127.0.0.1:2381'], memberId: MEMBER_ID, clusterId: CLUSTER_ID });
    const put = await app.inject({ method: 'PUT', url: '/raftgate/v1/native' });
    expect(put.statusCode).toBe(405);
    await app.close();
  });
});
