/**
 * Prometheus' text format (version 0.0.4), made at scrape time from the counters each module
 * already keeps: nothing on a hot path but a number added. Names and units as Prometheus' own
 * conventions (`_total`, `_seconds`, `_bytes`); every label set is bounded by what it names
 * (a device, a kind, a verb), never by what passes through.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels?: Labels;
  value: number;
  /** `_bucket`, `_sum` or `_count` of a histogram */
  suffix?: string;
}

export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: Sample[];
}

export const counter = (name: string, help: string, samples: Sample[] | number): Family => ({ name, help, type: 'counter', samples: typeof samples === 'number' ? [{ value: samples }] : samples });
export const gauge = (name: string, help: string, samples: Sample[] | number): Family => ({ name, help, type: 'gauge', samples: typeof samples === 'number' ? [{ value: samples }] : samples });

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function renderMetrics(families: readonly Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels && Object.keys(s.labels).length > 0 ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      out.push(`${f.name}${s.suffix ?? ''}${labels} ${number(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}

/** A histogram of seconds with fixed buckets: an observation is a loop over a dozen numbers. */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly buckets: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]) {
    this.counts = buckets.map(() => 0);
  }

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (seconds <= (this.buckets[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        break;
      }
    }
  }

  /** cumulative `_bucket` samples, then `_sum` and `_count` */
  samples(labels: Labels = {}): Sample[] {
    let cumulative = 0;
    const out: Sample[] = this.buckets.map((le, i) => {
      cumulative += this.counts[i] as number;
      return { suffix: '_bucket', labels: { ...labels, le: String(le) }, value: cumulative };
    });
    out.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: this.count }, { suffix: '_sum', labels, value: this.sum }, { suffix: '_count', labels, value: this.count });
    return out;
  }
}

/**
 * The process' own figures, as Prometheus' client libraries name them: memory, CPU, start time,
 * the V8 heap and the event loop's delay (p99 and max since the last scrape).
 */
export function processMetrics(): () => Family[] {
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const started = Date.now() / 1000 - process.uptime();
  return () => {
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    const families = [
      counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', (cpu.user + cpu.system) / 1e6),
      gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', mem.rss),
      gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', Math.round(started)),
      gauge('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes.', mem.heapUsed),
      gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved, in bytes.', mem.heapTotal),
      gauge('nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript (buffers, the WebAssembly store), in bytes.', mem.external),
      gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the event loop delay since the last scrape, in seconds.', loop.percentile(99) / 1e9),
      gauge('nodejs_eventloop_lag_max_seconds', 'The longest event loop delay since the last scrape, in seconds.', loop.max / 1e9),
    ];
    loop.reset();
    return families;
  };
}
