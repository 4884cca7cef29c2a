// The ready-made dev cluster files must load, and must agree with the port
// rule `raftgate dev` uses, or a member started by hand would not find the
// others.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { describeFields, devMemberPorts, exitCodeFor, ConfigError, helpText, PROCESS_KINDS } from '../../../config/index.js';
import { load } from './helpers.js';

const devDir = fileURLToPath(new URL('../../../config/dev/', import.meta.url));

describe('config/dev files', () => {
  it('holds three members and two proxies', () => {
    expect(readdirSync(devDir).sort()).toEqual(['member-1.yaml', 'member-2.yaml', 'member-3.yaml', 'proxy.yaml', 'readonly-proxy.yaml']);
  });

  it.each([1, 2, 3])('member-%i.yaml loads and uses the dev port rule', (i) => {
    const { config, warnings } = load('core', { argv: ['--config-file', `${devDir}member-${i}.yaml`], cwd: '/repo' });
    const ports = devMemberPorts(12379, i);
    expect(warnings).toEqual([]);
    expect(config.name).toBe(ports.name);
    expect(config.dataDir).toBe(`/repo/data/member-${i}`);
    expect(config.listenClientUrls).toEqual([`http://127.0.0.1:${ports.clientPort}`]);
    expect(config.listenPeerUrls).toEqual([`http://127.0.0.1:${ports.peerPort}`]);
    expect(config.listenNativeUrls).toEqual([`http://127.0.0.1:${ports.nativePort}`]);
    expect(config.initialCluster).toEqual(
      [1, 2, 3].map((j) => ({ name: `member-${j}`, peerUrls: [`http://127.0.0.1:${devMemberPorts(12379, j).peerPort}`] })),
    );
  });

  it.each([
    ['proxy.yaml', 'readwrite', 2379],
    ['readonly-proxy.yaml', 'readonly', 2479],
  ] as const)('%s loads and points at every member', (name, mode, port) => {
    const { config } = load('proxy', { argv: ['--config-file', `${devDir}${name}`] });
    expect(config.mode).toBe(mode);
    expect(config.listenClientUrls).toEqual([`http://127.0.0.1:${port}`]);
    expect(config.endpoints).toEqual([1, 2, 3].map((i) => `http://127.0.0.1:${devMemberPorts(12379, i).clientPort}`));
  });

  it('matches the dev launcher defaults', () => {
    const { config } = load('dev');
    expect(config).toMatchObject({ members: 3, basePort: 12379, proxyPort: 2379, readonlyProxyPort: 2479 });
    expect(readFileSync(`${devDir}proxy.yaml`, 'utf8')).toContain(`http://127.0.0.1:${config.proxyPort}`);
  });
});

describe('describeFields and helpText', () => {
  it.each(PROCESS_KINDS)('documents every %s field with flag, env, type, default and description', (kind) => {
    for (const d of describeFields(kind)) {
      expect(d.flag).toMatch(/^--[a-z0-9]+(-[a-z0-9]+)*$/u);
      expect(d.env).toBe(`RAFTGATE_${d.flag.slice(2).toUpperCase().replaceAll('-', '_')}`);
      expect(d.description.length).toBeGreaterThan(10);
      expect(d.type).not.toBe('');
      expect(helpText(kind)).toContain(`${d.flag} ${d.type}   (env ${d.env}`);
    }
  });

  it('shows defaults the way a user writes them', () => {
    const byFlag = new Map(describeFields('proxy').map((d) => [d.flag, d]));
    expect(byFlag.get('--max-staleness')?.default).toBe('1s');
    expect(byFlag.get('--cache-bytes-max')?.default).toBe('64MiB');
    expect(byFlag.get('--endpoints')?.required).toBe(true);
    expect(describeFields('core').find((d) => d.flag === '--max-request-bytes')?.default).toBe('1.5MiB');
    expect(describeFields('core').find((d) => d.flag === '--data-dir')?.default).toBe('<name>.raftgate');
  });

  it('exits 2 for config errors and 1 for anything else', () => {
    expect(exitCodeFor(new ConfigError({ field: '--x', source: 'flag', reason: 'r' }))).toBe(2);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
  });
});
