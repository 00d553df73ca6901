/**
 * The arguments after `node script.js`, by name, in order. A missing one ends the script with a
 * usage line, so a test that passes too few sees why instead of a script working on `undefined`.
 */
export function scriptArgs<Name extends string>(...names: Name[]): Record<Name, string> {
  const given = process.argv.slice(2);
  if (given.length < names.length) {
    console.error(`usage: node ${process.argv[1] ?? 'script.js'} ${names.join(' ')} (got ${given.length} arguments)`);
    process.exit(2);
  }
  return Object.fromEntries(names.map((name, i) => [name, given[i]])) as Record<Name, string>;
}

/** The arguments after the first `named` ones: a list of any length. */
export function restArgs(named: number): string[] {
  return process.argv.slice(2 + named);
}
