// A mapping table as read from YAML, with the file and line of every key kept so that an error in a table
// names the file, the line and the key, and says how to fix it (DESIGN.md "Config errors").

import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';

export type KeyPath = readonly (string | number)[];

export class MappingError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly key: string,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${key}: ${detail}`);
    this.name = 'MappingError';
  }
}

/** "fields[3].ie" for ['fields', 3, 'ie']. */
export function keyName(path: KeyPath): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(top level)' : out;
}

export class MappingSource {
  readonly data: unknown;
  private readonly doc: Document;
  private readonly lines: LineCounter;

  constructor(readonly file: string, text: string) {
    this.lines = new LineCounter();
    this.doc = parseDocument(text, { lineCounter: this.lines });
    const err = this.doc.errors[0];
    if (err) {
      const line = err.linePos?.[0]?.line ?? 1;
      throw new MappingError(file, line, '(yaml)', err.message.split('\n')[0]!);
    }
    this.data = this.doc.toJS();
  }

  static read(file: string): MappingSource {
    return new MappingSource(file, readFileSync(file, 'utf8'));
  }

  /** Line of the node at `path`, or of its nearest ancestor that exists. */
  lineOf(path: KeyPath): number {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && node.range) return this.lines.linePos(node.range[0]).line;
    }
    return 1;
  }

  fail(path: KeyPath, detail: string): never {
    throw new MappingError(this.file, this.lineOf(path), keyName(path), detail);
  }

  // Typed accessors: each either returns the value or fails naming the key.

  get(path: KeyPath): unknown {
    let v: unknown = this.data;
    for (const p of path) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<string | number, unknown>)[p];
    }
    return v;
  }

  list(path: KeyPath, required = true): unknown[] {
    const v = this.get(path);
    if (v === undefined && !required) return [];
    if (!Array.isArray(v)) this.fail(path, 'expected a list');
    return v;
  }

  object(path: KeyPath): Record<string, unknown> {
    const v = this.get(path);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'expected a mapping (key: value)');
    return v as Record<string, unknown>;
  }

  integer(path: KeyPath, min: number, max: number, fallback?: number): number {
    const v = this.get(path);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(path, `expected an integer ${min}..${max}`);
    if (v < min || v > max) this.fail(path, `${v} is out of range; expected ${min}..${max}`);
    return v;
  }

  string(path: KeyPath, fallback?: string): string {
    const v = this.get(path);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || v === '') this.fail(path, 'expected a non-empty string');
    return v;
  }

  /** Fails on keys the table format does not know (a typo must not be silently ignored). */
  onlyKeys(path: KeyPath, allowed: readonly string[]): void {
    const o = this.object(path);
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail([...path, k], `unknown key; expected one of ${allowed.join(', ')}`);
    }
  }
}
