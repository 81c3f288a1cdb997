// What the config loader says about a YAML text: its ConfigError's list (every problem, each naming key
// and line), or [] when the text is valid.

import { ConfigError, parseConfig } from '../../src/config/load.js';

export function configErrors(text: string, path = 'gw.yaml'): string[] {
  try {
    parseConfig(text, path);
  } catch (e) {
    if (e instanceof ConfigError) return e.errors;
    throw e;
  }
  return [];
}
