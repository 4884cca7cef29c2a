// The flags the chart's templates pass to `raftgate core` and `raftgate
// proxy`, read from the template lines `- --flag=value`, and the config
// fields (config/schema.ts) that parse them. A flag value that is a plain
// {{ .Values.x }} can be resolved for any values file without helm.
import { coreFields, proxyFields, type FieldSpec } from '../../config/index.js';
import { type Json, scanTemplate, templateFiles, valueAt } from './chart.js';

export type Kind = 'core' | 'proxy';

export const fieldTables: Record<Kind, Readonly<Record<string, FieldSpec>>> = {
  core: coreFields as unknown as Readonly<Record<string, FieldSpec>>,
  proxy: proxyFields as unknown as Readonly<Record<string, FieldSpec>>,
};

export function fieldByFlag(kind: Kind, flag: string): FieldSpec | undefined {
  return Object.values(fieldTables[kind]).find((f) => f.flag === flag);
}

/** Which command a template's flags go to: the core StatefulSet's, or the one proxy argument list. */
function kindOf(file: string, define: string | undefined): Kind | undefined {
  if (file === 'templates/core-statefulset.yaml') return 'core';
  if (define === 'define raftgate.proxyArgs') return 'proxy';
  return undefined;
}

export interface FlagUse {
  readonly kind: Kind | undefined;
  readonly flag: string;
  readonly where: string;
  /** `{{ ... }}` text after the `=`, or the literal value when there is no action. */
  readonly valueText: string;
}

/** `- --flag=value` lines of the templates, with the command they belong to. */
export function flagUses(): FlagUse[] {
  const uses: FlagUse[] = [];
  for (const f of templateFiles()) {
    const scan = scanTemplate(f);
    f.text.split('\n').forEach((line, i) => {
      const m = /^\s*-\s+"?--([a-z0-9-]+)=(.*?)"?\s*$/.exec(line);
      if (m === null) return;
      // The define around this line, from the last action at or before it.
      const before = scan.actions.filter((a) => a.line <= i + 1).at(-1);
      uses.push({ kind: kindOf(f.name, before?.define), flag: m[1]!, where: `${f.name}:${i + 1}`, valueText: m[2]! });
    });
  }
  return uses;
}

/**
 * A flag's value for one set of values, as the template renders it: a
 * literal stays as written, {{ .Values.x }} becomes the value at x. Values a
 * helper computes (member lists, $(POD_NAME)) are not resolved.
 */
export function resolvedValue(u: FlagUse, values: Json): { ok: true; value: string; path?: string } | { ok: false } {
  if (!u.valueText.includes('{{')) return u.valueText.includes('$(') ? { ok: false } : { ok: true, value: u.valueText };
  const m = /^\{\{-?\s*(?:\.root)?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?:\s*\|\s*int64)?\s*-?\}\}$/.exec(u.valueText);
  if (m === null) return { ok: false };
  const at = valueAt(values, m[1]!.split('.').filter(Boolean));
  if (!at.found) throw new Error(`${u.where}: no value at ${m[1]}`);
  return { ok: true, value: String(at.value), path: m[1]!.slice(1) };
}
