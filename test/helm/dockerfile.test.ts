// The Dockerfile, read without a Docker engine: a multi-stage build whose
// build stage has every file `npm run build` compiles, whose runtime stage
// holds production dependencies, dist/ and bin/ only and runs as the uid the
// chart's securityContext names, and whose COPY sources are not left out of
// the build context by .dockerignore. (A real build was run by hand once:
// see helm/raftgate/README.md, "Container image".)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { parse as parseYaml } from 'yaml';

import { repoRoot } from '../helpers/raftgate.js';
import { defaultValues, readChartFile, type JsonObject } from './chart.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly line: number;
}

interface Stage {
  readonly name: string;
  readonly from: string;
  readonly instructions: Instruction[];
}

/** Instructions grouped by stage, with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): { globalArgs: Instruction[]; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending === '') startLine = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(full);
    if (m !== null) instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: startLine });
  });
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      stages.push({ from: m?.[1] ?? ins.args, name: m?.[2] ?? String(stages.length), instructions: [] });
    } else if (stages.length === 0) {
      globalArgs.push(ins);
    } else {
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

/** Sources of a COPY from the build context (not --from=stage): the words before the destination. */
function contextSources(ins: Instruction): string[] {
  if (ins.op !== 'COPY' || /--from=/.test(ins.args)) return [];
  const words = ins.args.split(/\s+/).filter((w) => !w.startsWith('--'));
  return words.slice(0, -1);
}

/** Patterns of .dockerignore, and whether one of them keeps a path out of the context. */
function dockerignored(patterns: readonly string[], path: string): boolean {
  const clean = path.replace(/^\.\//, '').replace(/\/$/, '');
  return patterns.some((p) => {
    const pat = p.replace(/^\//, '').replace(/\/$/, '');
    const re = new RegExp(`^${pat.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}(/.*)?$`);
    return re.test(clean);
  });
}

const dockerfile = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const ignorePatterns = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const runtime = dockerfile.stages.at(-1)!;
const runs = (stage: Stage) => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);

describe('Dockerfile', () => {
  it('is multi-stage: a build stage that runs npm ci and npm run build, then a runtime stage', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    const build = dockerfile.stages.find((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)));
    expect(build, 'a stage that runs npm run build').toBeDefined();
    expect(runs(build!).some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(build).not.toBe(runtime);
  });

  it('copies into the build stage every folder tsconfig.build.json compiles, before building', () => {
    const build = dockerfile.stages.find((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)))!;
    const buildAt = build.instructions.findIndex((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args));
    const copied = build.instructions.slice(0, buildAt).flatMap(contextSources);
    const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as { include: string[]; extends?: string };
    for (const folder of tsconfig.include) expect(copied, folder).toContain(folder);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) expect(copied, f).toContain(f);
  });

  it('gives the runtime stage production dependencies only, with dist/, bin/ and package.json', () => {
    const fromStages = runtime.instructions
      .filter((i) => i.op === 'COPY')
      .map((i) => /--from=(\S+)\s+(\S+)/.exec(i.args))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ stage: m[1]!, path: m[2]! }));
    const modulesFrom = fromStages.find((c) => c.path.endsWith('/node_modules'));
    expect(modulesFrom, 'node_modules copied from a stage').toBeDefined();
    const depsStage = dockerfile.stages.find((s) => s.name === modulesFrom!.stage)!;
    expect(runs(depsStage).some((r) => /\bnpm ci\b.*--omit=dev/.test(r)), `${depsStage.name} installs with --omit=dev`).toBe(true);
    expect(fromStages.some((c) => c.path.endsWith('/dist'))).toBe(true);
    const fromContext = runtime.instructions.flatMap(contextSources);
    expect(fromContext.sort()).toEqual(['bin', 'package.json']);
    // No compiler or dev tool runs in the final image.
    expect(runs(runtime).filter((r) => /\bnpm\b|\btsc\b/.test(r))).toEqual([]);
  });

  it('runs as the non-root uid and gid the chart runs its containers with', () => {
    const v = defaultValues();
    const sc = v.containerSecurityContext as JsonObject;
    const user = runtime.instructions.filter((i) => i.op === 'USER').at(-1);
    expect(user?.args).toBe(`${String(sc.runAsUser)}:${String(sc.runAsGroup)}`);
    expect(sc.runAsUser).not.toBe(0);
    const setup = runs(runtime).join('\n');
    expect(setup).toContain(`--uid ${String(sc.runAsUser)}`);
    expect(setup).toContain(`--gid ${String(sc.runAsGroup)}`);
  });

  it('starts raftgate, so the chart passes only `core ...` or `proxy ...` as args', () => {
    const entry = runtime.instructions.filter((i) => i.op === 'ENTRYPOINT').at(-1);
    const argv = JSON.parse(entry?.args ?? 'null') as string[];
    expect([['raftgate'], ['node', '/app/bin/raftgate.js']]).toContainEqual(argv);
  });

  it('exposes the ports the core container listens on', () => {
    const exposed = runtime.instructions.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
    const sts = readChartFile('templates', 'core-statefulset.yaml');
    const ports = [...sts.matchAll(/containerPort:\s*(\d+)/g)].map((m) => m[1]!);
    expect(ports.length).toBe(3);
    expect(exposed.sort()).toEqual(ports.sort());
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const sources = dockerfile.stages.flatMap((s) => s.instructions.flatMap(contextSources));
    expect(sources.length).toBeGreaterThan(5);
    for (const src of sources) {
      expect(existsSync(join(repoRoot, src)), `${src} exists`).toBe(true);
      expect(dockerignored(ignorePatterns, src), `${src} is not excluded by .dockerignore`).toBe(false);
    }
  });

  it('keeps local state out of the context (.dockerignore)', () => {
    for (const p of ['node_modules', 'dist', 'data', '.git', 'node_modules/fastify/package.json']) {
      expect(dockerignored(ignorePatterns, p), p).toBe(true);
    }
  });

  it('is the image the chart runs by default: repository raftgate, tagged with the chart appVersion = package.json version', () => {
    const chart = parseYaml(readChartFile('Chart.yaml')) as { appVersion: string };
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
    const image = defaultValues().image as JsonObject;
    expect(image.tag).toBe('');
    const documented = `docker build -t ${String(image.repository)}:${pkg.version} .`;
    expect(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')).toContain(documented);
    expect(readChartFile('README.md')).toContain(documented);
  });
});
