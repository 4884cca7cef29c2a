// Reading the Helm chart for tests, without a helm binary: its values files,
// its schema, and a scanner for the Go-template actions in its templates.
// The scanner is not a template engine: it finds `{{ }}` actions (skipping
// comments and string literals), checks their nesting, and lists what they
// reference (.Values paths, included templates, flags), which is all the
// static checks need.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

import { repoRoot } from '../helpers/raftgate.js';

export const chartDir = join(repoRoot, 'helm', 'raftgate');

export function chartPath(...parts: string[]): string {
  return join(chartDir, ...parts);
}

export function readChartFile(...parts: string[]): string {
  return readFileSync(chartPath(...parts), 'utf8');
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function loadYamlFile(path: string): Json {
  return parseYaml(readFileSync(path, 'utf8')) as Json;
}

export function defaultValues(): JsonObject {
  const v = loadYamlFile(chartPath('values.yaml'));
  if (!isObject(v)) throw new Error('values.yaml is not a mapping');
  return v;
}

export interface ValuesFile {
  /** values.yaml or ci/<name>.yaml */
  readonly name: string;
  /** The file as written (what the schema sees for values.yaml). */
  readonly own: JsonObject;
  /** values.yaml with the file laid over it, as helm merges `-f file`. */
  readonly merged: JsonObject;
}

/** values.yaml and every ci/*.yaml, each merged over the defaults. */
export function valuesFiles(): ValuesFile[] {
  const defaults = defaultValues();
  const files: ValuesFile[] = [{ name: 'values.yaml', own: defaults, merged: defaults }];
  const ciDir = chartPath('ci');
  for (const f of readdirSync(ciDir).filter((n) => n.endsWith('.yaml')).sort()) {
    const own = loadYamlFile(join(ciDir, f));
    if (!isObject(own)) throw new Error(`ci/${f} is not a mapping`);
    files.push({ name: `ci/${f}`, own, merged: mergeValues(defaults, own) });
  }
  return files;
}

/** Helm's merge of user values over chart defaults: maps merge key by key, anything else replaces, null deletes. */
export function mergeValues(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(b)) out[k] = mergeValues(b, v);
    else out[k] = v;
  }
  return out;
}

export function valueAt(root: Json, path: readonly string[]): { found: true; value: Json } | { found: false; missingAt: string } {
  let cur: Json = root;
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    if (!isObject(cur) || !(key in cur)) return { found: false, missingAt: path.slice(0, i + 1).join('.') };
    cur = cur[key]!;
  }
  return { found: true, value: cur };
}

// ---- schema ------------------------------------------------------------------

export function loadSchema(): JsonObject {
  const s = JSON.parse(readChartFile('values.schema.json')) as Json;
  if (!isObject(s)) throw new Error('values.schema.json is not an object');
  return s;
}

/** Follows a local $ref (#/definitions/x) to the schema it names. */
export function deref(schema: JsonObject, node: JsonObject): JsonObject {
  let cur = node;
  for (let hops = 0; typeof cur.$ref === 'string'; hops++) {
    if (hops > 16) throw new Error(`$ref loop at ${String(node.$ref)}`);
    const m = /^#\/definitions\/([A-Za-z0-9_-]+)$/.exec(cur.$ref);
    const target = m === null ? undefined : (schema.definitions as JsonObject | undefined)?.[m[1]!];
    if (!isObject(target)) throw new Error(`unresolvable $ref ${cur.$ref}`);
    cur = target;
  }
  return cur;
}

/** The schema node that validates the value at `path`, or undefined when the schema does not declare it. */
export function schemaAt(schema: JsonObject, path: readonly string[]): JsonObject | undefined {
  let cur: JsonObject = schema;
  for (const key of path) {
    cur = deref(schema, cur);
    const props = cur.properties;
    if (!isObject(props)) return undefined;
    const next = props[key];
    if (!isObject(next)) return undefined;
    cur = next;
  }
  return deref(schema, cur);
}

// ---- Go templates --------------------------------------------------------------

export interface TemplateFile {
  /** Path under the chart, e.g. templates/_helpers.tpl */
  readonly name: string;
  readonly text: string;
}

export function templateFiles(): TemplateFile[] {
  const dir = chartPath('templates');
  return readdirSync(dir)
    .filter((n) => /\.(ya?ml|tpl|txt)$/.test(n))
    .sort()
    .map((n) => ({ name: `templates/${n}`, text: readFileSync(join(dir, n), 'utf8') }));
}

export interface Action {
  readonly file: string;
  readonly line: number;
  /** The action's content without delimiters, trim markers or surrounding space. */
  readonly body: string;
  /** `body` with string literals emptied, for searching identifiers. */
  readonly code: string;
  /** Names of the blocks (if, range, define "x", ...) this action is inside, outermost first. */
  readonly enclosing: readonly string[];
  /** The `define` this action is inside, if any. */
  readonly define: string | undefined;
}

export interface Scan {
  readonly actions: Action[];
  readonly problems: string[];
}

const OPENERS = new Set(['if', 'range', 'with', 'define', 'block']);

function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** Empties the contents of "..." `...` and '.' literals, keeping the quotes; undefined when one is unterminated. */
function blankStrings(body: string): string | undefined {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '"' && c !== '`' && c !== "'") {
      out += c;
      continue;
    }
    let j = i + 1;
    while (j < body.length && body[j] !== c) j += c !== '`' && body[j] === '\\' ? 2 : 1;
    if (j >= body.length) return undefined;
    out += c + c;
    i = j;
  }
  return out;
}

/** Finds every action of one template file and checks that delimiters and blocks are balanced. */
export function scanTemplate(file: TemplateFile): Scan {
  const { text, name } = file;
  const actions: Action[] = [];
  const problems: string[] = [];
  const stack: Array<{ keyword: string; label: string; line: number }> = [];
  let pos = 0;
  while (pos < text.length) {
    const open = text.indexOf('{{', pos);
    const strayClose = text.indexOf('}}', pos);
    if (strayClose !== -1 && (open === -1 || strayClose < open)) {
      problems.push(`${name}:${lineOf(text, strayClose)}: "}}" outside any action`);
    }
    if (open === -1) break;
    const line = lineOf(text, open);
    let i = open + 2;
    if (text.startsWith('- ', i)) i += 2;
    while (text[i] === ' ' || text[i] === '\t' || text[i] === '\n') i++;
    if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      const after = end === -1 ? -1 : end + 2;
      const close = after === -1 ? null : /^( -)?\}\}/.exec(text.slice(after));
      if (close === null) {
        problems.push(`${name}:${line}: comment not closed by "*/}}"`);
        break;
      }
      pos = after + close[0].length;
      continue;
    }
    // Find the closing "}}" outside string literals.
    let j = i;
    let quote: string | null = null;
    let close = -1;
    for (; j < text.length; j++) {
      const c = text[j]!;
      if (quote !== null) {
        if (c === '\\' && quote !== '`') j++;
        else if (c === quote) quote = null;
        else if (c === '\n' && quote !== '`') break;
        continue;
      }
      if (c === '"' || c === '`' || c === "'") quote = c;
      else if (text.startsWith('}}', j)) {
        close = j;
        break;
      } else if (text.startsWith('{{', j)) break;
    }
    if (close === -1) {
      problems.push(`${name}:${line}: action not closed by "}}"${quote !== null ? ' (unterminated string)' : ''}`);
      break;
    }
    let body = text.slice(i, close);
    if (body.endsWith(' -')) body = body.slice(0, -2);
    body = body.trim();
    const code = blankStrings(body) ?? body;
    const keyword = /^([a-z]+)\b/.exec(body)?.[1] ?? '';
    const define = [...stack].reverse().find((b) => b.keyword === 'define')?.label;
    actions.push({ file: name, line, body, code, enclosing: stack.map((b) => b.label), define });
    if (OPENERS.has(keyword)) {
      const label = keyword === 'define' || keyword === 'block' ? `${keyword} ${/"([^"]*)"/.exec(body)?.[1] ?? '?'}` : keyword;
      if (keyword === 'define' && stack.length > 0) problems.push(`${name}:${line}: define inside ${stack.at(-1)!.label}`);
      stack.push({ keyword, label, line });
    } else if (keyword === 'else') {
      const top = stack.at(-1);
      if (top === undefined || !['if', 'range', 'with'].includes(top.keyword)) problems.push(`${name}:${line}: else outside if/range/with`);
    } else if (keyword === 'end') {
      if (stack.pop() === undefined) problems.push(`${name}:${line}: end without an open block`);
    }
    pos = close + 2;
  }
  for (const b of stack) problems.push(`${name}:${b.line}: ${b.label} is never closed by {{ end }}`);
  return { actions, problems };
}

/** Every `.Values.a.b.c` an action reads, as path arrays, with the action it is in. */
export function valuesReferences(actions: readonly Action[]): Array<{ path: string[]; action: Action; prefix: string }> {
  const refs: Array<{ path: string[]; action: Action; prefix: string }> = [];
  for (const action of actions) {
    for (const m of action.code.matchAll(/(\$?[A-Za-z0-9_]*)\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)*)/g)) {
      refs.push({ path: (m[2] ?? '').split('.').filter((p) => p !== ''), action, prefix: m[1] ?? '' });
    }
  }
  return refs;
}

/** Names given to `include` and `template`, with the action that names them. */
export function includedTemplates(actions: readonly Action[]): Array<{ name: string; action: Action }> {
  const out: Array<{ name: string; action: Action }> = [];
  for (const action of actions) {
    for (const m of action.body.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)) out.push({ name: m[1]!, action });
  }
  return out;
}

export function definedTemplates(actions: readonly Action[]): string[] {
  return actions.flatMap((a) => {
    const m = /^define\s+"([^"]+)"/.exec(a.body);
    return m === null ? [] : [m[1]!];
  });
}

/** The chart's files outside templates/, for .Files.Get checks. */
export function chartFileExists(rel: string): boolean {
  return existsSync(chartPath(rel));
}
