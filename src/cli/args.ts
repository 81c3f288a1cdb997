// Small argv parsing shared by the commands: flags with values, boolean flags, positionals.

export class UsageError extends Error {}

export interface Parsed {
  positionals: string[];
  values: Map<string, string>;
  flags: Set<string>;
}

/** `valueFlags` take the next argument; `boolFlags` take none. Unknown flags are usage errors. */
export function parseArgs(argv: string[], valueFlags: string[], boolFlags: string[]): Parsed {
  const out: Parsed = { positionals: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [name, inline] = a.split('=', 2) as [string, string | undefined];
      if (valueFlags.includes(name)) {
        const v = inline ?? argv[++i];
        if (v === undefined) throw new UsageError(`${name} needs a value`);
        out.values.set(name, v);
      } else if (boolFlags.includes(name)) out.flags.add(name);
      else throw new UsageError(`unknown option ${name}`);
    } else out.positionals.push(a);
  }
  return out;
}
