// Writes a generated part of docs/benchmarks.md (or README.md): the text between `<!-- name:start -->` and
// `<!-- name:end -->` is replaced, the rest of the page (written by hand) is kept.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const BENCHMARKS_MD = resolve(import.meta.dirname, '../../docs/benchmarks.md');
export const README_MD = resolve(import.meta.dirname, '../../README.md');

export function writeDocSection(name, markdown, path = BENCHMARKS_MD) {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  const next = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

/** A Markdown table from a header row and rows of cells. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
