/**
 * What a benchmark reads about a process and a namespace from outside: resident memory (now and
 * its peak), open descriptors, threads and CPU time from /proc/PID, and the TUN/TAP devices of a
 * namespace, counted by kind and by name prefix. Nothing here asks the process itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { ipIn } from './bench-namespaces.js';

/** One look at a process. */
export interface ProcessSample {
  /** When (Date.now()). */
  at: number;
  rssKiB: number;
  /** The highest RSS the process has had (VmHWM). */
  peakRssKiB: number;
  fds: number;
  threads: number;
  /** User and system CPU time so far, in ms. */
  cpuMs: number;
}

/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** Reads /proc/PID: throws when the process is gone. */
export function sampleProcess(pid: number): ProcessSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return {
    at: Date.now(),
    rssKiB: kib('VmRSS'),
    peakRssKiB: kib('VmHWM'),
    fds: readdirSync(`/proc/${pid}/fd`).length,
    threads: readdirSync(`/proc/${pid}/task`).length,
    cpuMs: cpuMsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8')),
  };
}

/** User and system CPU time so far of one thread (`tid`; the process's own id is its main thread), in ms. */
export function taskCpuMs(pid: number, tid: number): number {
  return cpuMsOfStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
}

/** User plus system CPU time (ms) of a /proc stat line. */
function cpuMsOfStat(stat: string): number {
  // Fields 14 and 15 (utime, stime) come after the command name, which may hold spaces: count from its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

/** User and system CPU time so far of each thread of a process, in ms, summed by thread name (comm). */
export function threadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    byName.set(name, (byName.get(name) ?? 0) + cpuMsOfStat(stat));
  }
  return byName;
}

/** Each thread name's share of one core between two `threadCpuMs` readings `elapsedMs` apart, busiest first. */
export function threadCpuPercent(from: Map<string, number>, to: Map<string, number>, elapsedMs: number): Array<[string, number]> {
  const shares: Array<[string, number]> = [];
  for (const [name, ms] of to) {
    const share = (100 * (ms - (from.get(name) ?? 0))) / elapsedMs;
    if (share > 0) shares.push([name, Number(share.toFixed(1))]);
  }
  return shares.sort((a, b) => b[1] - a[1]);
}

/** CPU used between two samples of one process, as a percentage of one core. */
export function cpuPercent(from: ProcessSample, to: ProcessSample): number {
  return to.at === from.at ? 0 : (100 * (to.cpuMs - from.cpuMs)) / (to.at - from.at);
}

/** The highest value of each figure seen by a sampler. */
export interface ProcessPeaks {
  rssKiB: number;
  peakRssKiB: number;
  fds: number;
  threads: number;
  samples: number;
}

/**
 * Samples a process every `everyMs` and keeps the highest of each figure, for "at the peak"
 * figures of a process whose peak is not known in advance. `follow` moves it to another process
 * (a restarted hub) and keeps the peaks.
 */
export class ProcessSampler {
  private readonly peaks: ProcessPeaks = { rssKiB: 0, peakRssKiB: 0, fds: 0, threads: 0, samples: 0 };
  private readonly timer: NodeJS.Timeout;

  constructor(private pid: number, everyMs = 1000) {
    this.timer = setInterval(() => this.take(), everyMs);
    this.timer.unref();
    this.take();
  }

  /** Samples now (also what the timer does); a process that is gone is skipped. */
  take(): ProcessSample | undefined {
    let sample: ProcessSample;
    try {
      sample = sampleProcess(this.pid);
    } catch {
      return undefined;
    }
    // An exiting process keeps /proc/PID/status without its memory lines: no figure, not NaN.
    if (Number.isNaN(sample.rssKiB) || Number.isNaN(sample.peakRssKiB)) return undefined;
    const peaks = this.peaks;
    peaks.rssKiB = Math.max(peaks.rssKiB, sample.rssKiB);
    peaks.peakRssKiB = Math.max(peaks.peakRssKiB, sample.peakRssKiB);
    peaks.fds = Math.max(peaks.fds, sample.fds);
    peaks.threads = Math.max(peaks.threads, sample.threads);
    peaks.samples++;
    return sample;
  }

  /** Samples `pid` from now on. */
  follow(pid: number): void {
    this.take();
    this.pid = pid;
    this.take();
  }

  /** The peaks so far. */
  result(): ProcessPeaks {
    return { ...this.peaks };
  }

  stop(): ProcessPeaks {
    this.take();
    clearInterval(this.timer);
    return this.result();
  }
}

/** The TUN/TAP devices of a namespace: every one (kind `tun`, both modes), and those whose name starts with `prefix`. */
export interface DeviceCount {
  tun: number;
  owned: number;
}

/** Counts TUN/TAP devices in `namespace` (`ip link show type tun`, which lists both modes). */
export function countTunDevices(namespace: string, prefix: string): DeviceCount {
  const lines = ipIn(namespace, ['-o', 'link', 'show', 'type', 'tun']).split('\n').filter((line) => line.length > 0);
  // "12: tnl-m0: <…" (a name may carry "@…" for a link's peer; TUNs have none).
  const names = lines.map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '');
  return { tun: names.length, owned: names.filter((name) => name.startsWith(prefix)).length };
}
