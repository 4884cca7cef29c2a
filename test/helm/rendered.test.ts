// Where a helm binary is on the PATH: render the chart for values.yaml and
// every ci/*.yaml and hand the rendered command lines to Raftgate's own
// config loader, member by member, as the pods would run them (with
// $(POD_NAME) expanded). This proves what the static tests can only
// approximate: that each member's --initial-cluster entry matches its
// advertised peer URL and that every proxy command line loads. Skipped, and
// said so, where helm is not installed (CI today).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

import { loadConfig } from '../../config/index.js';
import { type JsonObject, chartDir, readChartFile, valuesFiles } from './chart.js';

const helmFound = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' }).status === 0;

function render(release: string, namespace: string, args: string[]): JsonObject[] {
  const r = spawnSync('helm', ['template', release, chartDir, '--namespace', namespace, '--api-versions', 'monitoring.coreos.com/v1', ...args], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJSON() as JsonObject | null)
    .filter((o): o is JsonObject => o !== null);
}

function containersOf(obj: JsonObject): JsonObject[] {
  const spec = ((obj.spec as JsonObject).template as JsonObject).spec as JsonObject;
  return spec.containers as JsonObject[];
}

function renderedTests(): void {
  for (const file of valuesFiles()) {
    it(`${file.name}: every member's and every proxy's command line loads in raftgate's config loader`, () => {
      const args = file.name === 'values.yaml' ? [] : ['-f', `${chartDir}/${file.name}`];
      const objects = render('rg', 'db', args);
      let loaded = 0;
      for (const sts of objects.filter((o) => o.kind === 'StatefulSet')) {
        const replicas = (sts.spec as JsonObject).replicas as number;
        const name = (sts.metadata as JsonObject).name as string;
        const argv = (containersOf(sts)[0]!.args as string[]).slice(1);
        for (let i = 0; i < replicas; i++) {
          const pod = `${name}-${i}`;
          const r = loadConfig('core', { argv: argv.map((a) => a.replaceAll('$(POD_NAME)', pod)), env: {}, cwd: '/' });
          expect(r.help).toBe(false);
          expect(r.config?.name).toBe(pod);
          expect(r.config?.initialCluster.map((m) => m.name)).toContain(pod);
          loaded++;
        }
      }
      const proxies = objects.filter((o) => o.kind === 'Deployment').map((d) => containersOf(d)[0]!);
      const sidecars = objects
        .filter((o) => o.kind === 'ConfigMap' && typeof (o.data as JsonObject | undefined)?.['container.yaml'] === 'string')
        .flatMap((cm) => parseYaml((cm.data as JsonObject)['container.yaml'] as string) as JsonObject[]);
      for (const c of [...proxies, ...sidecars]) {
        const argv = (c.args as string[]).slice(1).map((a) => a.replaceAll('$(POD_IP)', '10.0.0.7'));
        expect(c.args).toContain('proxy');
        const r = loadConfig('proxy', { argv, env: { RAFTGATE_L2_REDIS_URL: 'redis://redis:6379' }, cwd: '/' });
        expect(r.help).toBe(false);
        loaded++;
      }
      expect(loaded).toBeGreaterThan(0);
    });
  }

  it('renders exactly the sidecar container of examples/sidecar-app.yaml for release raftgate in namespace default', () => {
    const objects = render('raftgate', 'default', ['--set', 'sidecar.enabled=true']);
    const cm = objects.find((o) => o.kind === 'ConfigMap' && (o.metadata as JsonObject).name === 'raftgate-proxy-sidecar');
    const rendered = parseYaml((cm!.data as JsonObject)['container.yaml'] as string) as JsonObject[];
    const app = parseYaml(readChartFile('examples', 'sidecar-app.yaml')) as JsonObject;
    const example = containersOf(app).find((c) => c.name === 'raftgate-proxy');
    expect(rendered).toEqual([example]);
  });
}

describe('rendered by helm', () => {
  if (helmFound) renderedTests();
  else it.todo('helm is not on the PATH: install it to check the rendered command lines with the config loader (npm run chart:lint uses it too)');
});
