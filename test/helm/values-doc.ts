// The values reference in helm/raftgate/README.md, generated from the `# --`
// comments of values.yaml and the types of values.schema.json, so the three
// cannot drift apart. readme.test.ts fails when the README's copy is stale;
// `UPDATE_HELM_README=1 npx vitest run test/helm/readme.test.ts` rewrites it.
import { isMap, isScalar, parseDocument, type Node, type YAMLMap } from 'yaml';

import { type JsonObject, isObject, loadSchema, readChartFile, schemaAt } from './chart.js';

export const BEGIN = '<!-- values-reference:begin (generated from values.yaml; see test/helm/values-doc.ts) -->';
export const END = '<!-- values-reference:end -->';

function commentText(comment: string | undefined | null): string {
  const nearest = (comment ?? '').split(/\n\s*\n/).at(-1) ?? '';
  return nearest
    .split('\n')
    .map((l) => l.trim())
    .join(' ')
    .replace(/^--\s*/, '')
    .trim();
}

function typeOf(schema: JsonObject, path: string[]): string {
  const node = schemaAt(schema, path);
  if (node === undefined) return '?';
  if (Array.isArray(node.enum)) return node.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (node.type === 'array') return 'list';
  if (node.type === 'object') return isObject(node.additionalProperties) ? 'map' : 'object';
  if (Array.isArray(node.type)) return node.type.join(' or ');
  return String(node.type ?? '?');
}

function defaultText(node: Node | null): string {
  if (node === null) return 'null';
  return JSON.stringify(isScalar(node) ? node.value : node.toJSON());
}

/** Text for one table cell: pipes escaped, and <placeholders> outside `code` escaped so Markdown does not take them for HTML tags. */
function cell(s: string): string {
  return s
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
}

/** The `# --` comment of the key at index i of map (the yaml library hangs a map's first comment on the map). */
function commentOf(map: YAMLMap, i: number): string {
  const pair = map.items[i]!;
  return commentText((isScalar(pair.key) ? pair.key.commentBefore : undefined) ?? (i === 0 ? map.commentBefore : undefined));
}

function keyOf(map: YAMLMap, i: number): string {
  const k = map.items[i]!.key;
  return isScalar(k) ? String(k.value) : '?';
}

function isSection(node: unknown): node is YAMLMap {
  return isMap(node) && node.items.length > 0;
}

/** The values reference as Markdown: top-level scalars first, then one section per top-level map, one row per leaf. */
export function valuesReference(): string {
  const doc = parseDocument(readChartFile('values.yaml'));
  const schema = loadSchema();
  if (!isMap(doc.contents)) throw new Error('values.yaml is not a mapping');
  const top = doc.contents;
  const out: string[] = [];
  const table = (rows: string[]) => out.push('| Key | Type | Default | Description |', '| --- | --- | --- | --- |', ...rows, '');
  const row = (path: string[], value: Node | null, comment: string) =>
    `| \`${path.join('.')}\` | ${cell(typeOf(schema, path))} | \`${cell(defaultText(value))}\` | ${cell(comment)} |`;
  function leaves(map: YAMLMap, path: string[], rows: string[]): string[] {
    map.items.forEach((pair, i) => {
      const p = [...path, keyOf(map, i)];
      if (isSection(pair.value)) leaves(pair.value, p, rows);
      else rows.push(row(p, pair.value as Node | null, commentOf(map, i)));
    });
    return rows;
  }
  const scalars = top.items.flatMap((pair, i) => (isSection(pair.value) ? [] : [row([keyOf(top, i)], pair.value as Node | null, commentOf(top, i))]));
  out.push('### Names and labels', '');
  table(scalars);
  top.items.forEach((pair, i) => {
    if (!isSection(pair.value)) return;
    out.push(`### \`${keyOf(top, i)}\``, '', commentOf(top, i), '');
    table(leaves(pair.value, [keyOf(top, i)], []));
  });
  return out.join('\n').trimEnd();
}

/** The README with its generated section replaced by `reference`. */
export function withReference(readme: string, reference: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin === -1 || end === -1 || end < begin) throw new Error(`README.md lacks the ${BEGIN} ... ${END} markers`);
  return `${readme.slice(0, begin + BEGIN.length)}\n\n${reference}\n\n${readme.slice(end)}`;
}
