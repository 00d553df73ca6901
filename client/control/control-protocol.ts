import { z } from 'zod';
import { ENCAPSULATIONS } from '../../shared/net/encapsulation.js';
import { TunnelError } from '../../shared/errors.js';

/**
 * The local control protocol between `tunnel-client status`/`set` and every running client
 * process (`up`, `run`) of a state folder: one UNIX socket per process, one request per
 * connection, each side sending a single line of JSON. Version 1.
 */
export const CONTROL_PROTOCOL_VERSION = 1;

/** Largest request or response line accepted, in bytes. */
export const MAX_CONTROL_LINE_BYTES = 1024 * 1024;

const port = z.number().int().min(1).max(65535);

/** Fields a `set` may change on a running tunnel (the engine's live update). */
export const tunnelChangesSchema = z.strictObject({
  encap: z.enum(ENCAPSULATIONS).optional(),
  local: z.string().optional(),
  remote: z.string().optional(),
  key: z.number().int().min(0).max(0xffff_ffff).nullable().optional(),
  port: port.optional(),
  localPort: port.optional(),
  remotePort: port.optional(),
  mtu: z.number().int().optional(),
  ttl: z.number().int().optional(),
  mssClamp: z.boolean().optional(),
  keepaliveInterval: z.number().optional(),
  keepaliveRetries: z.number().int().optional(),
});

/** A request: the status of every tunnel of the process, or a live change of one tunnel. */
export const controlRequestSchema = z.discriminatedUnion('op', [
  z.strictObject({ v: z.literal(CONTROL_PROTOCOL_VERSION), op: z.literal('status') }),
  z.strictObject({ v: z.literal(CONTROL_PROTOCOL_VERSION), op: z.literal('update'), name: z.string().min(1).max(15), changes: tunnelChangesSchema }),
]);

/** A validated control request. */
export type ControlRequest = z.infer<typeof controlRequestSchema>;

/** The changes a `set` carries. */
export type TunnelChanges = z.infer<typeof tunnelChangesSchema>;

/** Which process answers: a static `up` or the `run` daemon. */
export type ControlRole = 'up' | 'run';

/** A success reply; `tunnels` holds TunnelStatus objects, kept opaque to the transport. */
export interface ControlOkResponse {
  v: typeof CONTROL_PROTOCOL_VERSION;
  ok: true;
  pid: number;
  role: ControlRole;
  tunnels: Record<string, unknown>[];
  /** Packets that reached a shared outer socket but no tunnel. */
  sockets?: Record<string, unknown>[];
}

/** A refusal, with the same codes the CLIs print. */
export interface ControlErrorResponse {
  v: typeof CONTROL_PROTOCOL_VERSION;
  ok: false;
  error: { code: string; message: string };
}

/** Any reply. */
export type ControlResponse = ControlOkResponse | ControlErrorResponse;

const responseSchema = z.union([
  z.object({
    v: z.literal(CONTROL_PROTOCOL_VERSION), ok: z.literal(true), pid: z.number().int(), role: z.enum(['up', 'run']),
    tunnels: z.array(z.record(z.string(), z.unknown())), sockets: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
  z.object({ v: z.literal(CONTROL_PROTOCOL_VERSION), ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);

/** Parses one request line; throws ERR_PROTOCOL (or ERR_UNSUPPORTED_VERSION) with a one-line reason. */
export function parseControlRequest(line: string): ControlRequest {
  const value = parseJson(line);
  if (typeof value === 'object' && value !== null && 'v' in value && value.v !== CONTROL_PROTOCOL_VERSION) {
    throw new TunnelError('ERR_UNSUPPORTED_VERSION', `control protocol version ${String(value.v)} is not supported (this side speaks ${CONTROL_PROTOCOL_VERSION})`);
  }
  const parsed = controlRequestSchema.safeParse(value);
  if (!parsed.success) throw schemaError('request', parsed.error);
  return parsed.data;
}

/** Parses one response line; throws ERR_PROTOCOL on anything malformed. */
export function parseControlResponse(line: string): ControlResponse {
  const parsed = responseSchema.safeParse(parseJson(line));
  if (!parsed.success) throw schemaError('response', parsed.error);
  return parsed.data as ControlResponse;
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new TunnelError('ERR_PROTOCOL', 'control message is not valid JSON');
  }
}

function schemaError(what: string, error: z.ZodError): TunnelError {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  return new TunnelError('ERR_PROTOCOL', `invalid control ${what}${where}: ${issue?.message ?? 'schema mismatch'}`);
}
