// Just enough PromQL reading for the chart's tests: which metric names and
// label names an expression uses, and which function each metric sits in
// directly. Syntax itself is left to promtool, which the tests also run.

const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'count_over_time',
  'day_of_month', 'day_of_week', 'delta', 'deriv', 'exp', 'floor', 'histogram_quantile', 'holt_winters', 'hour', 'idelta',
  'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'max_over_time', 'min_over_time',
  'minute', 'month', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sgn',
  'sort', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'time', 'timestamp', 'vector', 'year',
  // aggregation operators, written like functions
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile',
  // Grafana's query helper in template variables
  'label_values',
]);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

export interface MetricUse {
  readonly name: string;
  /** The function or aggregation whose parentheses directly hold the metric ('' for none or a plain group). */
  readonly directlyIn: string;
}

export interface PromqlRead {
  readonly metrics: MetricUse[];
  /** Label names in matchers, grouping clauses and label_values(). */
  readonly labels: string[];
  /** Function names used. */
  readonly functions: string[];
  /** Identifiers followed by "(" that are not PromQL functions. */
  readonly unknownFunctions: string[];
}

/** Substitutes Grafana's variables with values PromQL accepts, for checking dashboard queries. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '5m')
    .replace(/\$__interval|\$\{__interval\}/g, '1m')
    .replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, '.*');
}

export function readPromql(exprIn: string): PromqlRead {
  const labels: string[] = [];
  const metrics: MetricUse[] = [];
  // __name__ matchers name metrics too: {__name__=~"a|b"} (plain alternations only).
  for (const m of exprIn.matchAll(/__name__\s*=~?\s*"([^"]*)"/g)) {
    for (const alt of m[1]!.split('|')) metrics.push({ name: alt, directlyIn: '' });
  }
  let expr = exprIn.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const lm of m[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.push(lm[1]!);
  }
  expr = expr.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  for (const m of expr.matchAll(GROUPING)) {
    for (const l of m[2]!.split(',').map((s) => s.trim()).filter(Boolean)) labels.push(l);
  }
  expr = expr.replace(GROUPING, ' ');
  // label_values(metric, label): its second argument is a label.
  const lv = /label_values\s*\(\s*(?:[A-Za-z_:][A-Za-z0-9_:]*)?\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)/.exec(expr);
  if (lv !== null) {
    labels.push(lv[1]!);
    expr = expr.replace(/(label_values\s*\([^,]*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)/, '$1)');
  }
  const functions: string[] = [];
  const unknownFunctions: string[] = [];
  const stack: string[] = [];
  const token = /([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?|(\()|(\))|(\d+(?:\.\d+)?(?:e[+-]?\d+)?)/gi;
  for (const t of expr.matchAll(token)) {
    const [, ident, call, open, close, number] = t;
    if (number !== undefined) continue;
    if (open !== undefined) stack.push('');
    else if (close !== undefined) stack.pop();
    else if (ident !== undefined && call !== undefined && !KEYWORDS.has(ident)) {
      functions.push(ident);
      if (!FUNCTIONS.has(ident)) unknownFunctions.push(ident);
      stack.push(ident);
    } else if (ident !== undefined && call !== undefined) stack.push('');
    else if (ident !== undefined && !KEYWORDS.has(ident.toLowerCase())) metrics.push({ name: ident, directlyIn: stack.at(-1) ?? '' });
  }
  return { metrics, labels, functions, unknownFunctions };
}
