import { runRtnetlinkBatch, type RtnetlinkOutcome, type RtnetlinkRequest } from '../../native/index.js';

/** A refusal as a test compares it. */
export interface RtnetlinkRefusal {
  code: string;
  message: string;
  errno: number | null;
}

/** An outcome as a test compares it: 'ok', or the refusal with the interface it names. */
export type BriefRtnetlinkOutcome = 'ok' | (RtnetlinkRefusal & { interfaceName: string | null });

/** The outcomes reduced to what a test compares. */
export function brief(outcomes: RtnetlinkOutcome[]): BriefRtnetlinkOutcome[] {
  return outcomes.map((o) => (o.ok ? 'ok' : {
    code: o.error.code, message: o.error.message, errno: o.error.errno ?? null, interfaceName: o.error.interfaceName ?? null,
  }));
}

/** Runs a batch, briefly. */
export async function batch(requests: readonly RtnetlinkRequest[]): Promise<BriefRtnetlinkOutcome[]> {
  return brief(await runRtnetlinkBatch(requests));
}

/** A thrown coded error reduced to what a test compares. */
export function briefRefusal(err: unknown): RtnetlinkRefusal {
  const { code, message, errno } = err as { code: string; message: string; errno?: number };
  return { code, message, errno: errno ?? null };
}

/** 'ok', or the refusal `run` throws or rejects with. */
export async function refusedOrOk(run: () => unknown): Promise<'ok' | RtnetlinkRefusal> {
  try {
    await run();
    return 'ok';
  } catch (err) {
    return briefRefusal(err);
  }
}
