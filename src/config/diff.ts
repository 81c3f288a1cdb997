// What a configuration reload (SIGHUP) changes: inputs and outputs matched by name, each added, removed,
// changed (any of its validated settings differs) or unchanged; mapping settings; the metrics endpoint and
// the log level. Validated configs are compared (defaults applied, paths made absolute), so writing a
// default out, reordering keys or moving the file's comments changes nothing.

import type { Config, InputConfig, OutputConfig } from './types.js';

export interface NamedDiff<T extends { name: string }> {
  added: T[];
  removed: T[];
  /** The new settings of entries whose settings differ. */
  changed: T[];
  unchanged: T[];
}

export interface ConfigDiff {
  inputs: NamedDiff<InputConfig>;
  outputs: NamedDiff<OutputConfig>;
  /** `mapping` settings differ (the mapping files themselves are compared by the reload, see cli/gateway.ts). */
  mapping: boolean;
  metrics: boolean;
  logLevel: boolean;
}

/** JSON with object keys sorted, so equal settings compare equal whatever order they were built in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

function named<T extends { name: string }>(before: readonly T[], after: readonly T[]): NamedDiff<T> {
  const old = new Map(before.map((x) => [x.name, x]));
  const out: NamedDiff<T> = { added: [], removed: [], changed: [], unchanged: [] };
  const seen = new Set<string>();
  for (const x of after) {
    seen.add(x.name);
    const was = old.get(x.name);
    if (!was) out.added.push(x);
    else if (canonical(was) === canonical(x)) out.unchanged.push(x);
    else out.changed.push(x);
  }
  for (const x of before) if (!seen.has(x.name)) out.removed.push(x);
  return out;
}

export function diffConfig(before: Config, after: Config): ConfigDiff {
  return {
    inputs: named(before.inputs, after.inputs),
    outputs: named(before.outputs, after.outputs),
    mapping: canonical(before.mapping) !== canonical(after.mapping),
    metrics: before.metrics !== after.metrics,
    logLevel: before.logLevel !== after.logLevel,
  };
}

/** "added a, b; removed c; changed d" for the log. */
export function describeDiff(d: ConfigDiff): Record<string, string[]> {
  const names = (xs: { name: string }[]) => xs.map((x) => x.name);
  return {
    inputsAdded: names(d.inputs.added),
    inputsRemoved: names(d.inputs.removed),
    inputsChanged: names(d.inputs.changed),
    outputsAdded: names(d.outputs.added),
    outputsRemoved: names(d.outputs.removed),
    outputsChanged: names(d.outputs.changed),
  };
}
