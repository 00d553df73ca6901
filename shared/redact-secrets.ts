/** Field names that may hold secrets, wherever they appear at the top of a log line or one level down. */
export const SECRET_FIELDS: ReadonlySet<string> = new Set(['token', 'key', 'privateKey', 'secret', 'sessionKey', 'authorization', 'password']);

/** What a secret's value is replaced with. */
export const REDACTED = '[redacted]';

/**
 * The fields of a log line with every secret replaced: a field named in {@link SECRET_FIELDS}, or
 * one inside an object field (an error, a request). The caller's objects are left alone: a field
 * that changes is copied first. A line without secrets, nearly every one, is returned as it came,
 * at the cost of a lookup per field: pino's path redaction with wildcards cost 15 µs a line.
 */
export function redactSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  let out = fields;
  for (const name in fields) {
    const value = fields[name];
    let replacement: unknown;
    if (SECRET_FIELDS.has(name)) replacement = REDACTED;
    else if (typeof value === 'object' && value !== null && holdsSecret(value)) replacement = censoredCopy(value);
    else continue;
    if (out === fields) out = { ...fields };
    out[name] = replacement;
  }
  return out;
}

function holdsSecret(value: object): boolean {
  for (const name of SECRET_FIELDS) if (Object.hasOwn(value, name)) return true;
  return false;
}

/** A copy of `value` (of its prototype, with every own property: an error keeps its message and stack) with its secrets replaced. */
function censoredCopy(value: object): object {
  const copy = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, name)!;
    const secret = { value: REDACTED, enumerable: descriptor.enumerable, writable: true, configurable: true };
    Object.defineProperty(copy, name, SECRET_FIELDS.has(name) ? secret : descriptor);
  }
  return copy;
}
