/** A rule's status as the router keeps it: success and failure counts and the last errors, written lazily. */
import type { ObjectStore } from '../store/objects.js';
import type { RouteRule } from './rules.js';

const KEEP_ERRORS = 5;

interface Counts {
  successMessages: number;
  failMessages: number;
  errors: string[];
}

export class RuleStatus {
  private readonly counts = new Map<string, Counts>();

  constructor(private readonly store: ObjectStore) {}

  record(rule: RouteRule, ok: boolean, error?: string): void {
    const c = this.countsOf(rule.key);
    if (ok) c.successMessages++;
    else {
      c.failMessages++;
      if (error) c.errors = [...c.errors, `${new Date().toISOString()} ${error}`].slice(-KEEP_ERRORS);
    }
    this.write(rule, c);
  }

  /** a rule that cannot run says why, once */
  noteProblem(rule: RouteRule): void {
    const c = this.countsOf(rule.key);
    const line = `rule cannot run: ${rule.problem ?? ''}`;
    if (c.errors.at(-1)?.endsWith(line)) return;
    c.errors = [...c.errors, `${new Date().toISOString()} ${line}`].slice(-KEEP_ERRORS);
    this.write(rule, c);
  }

  private countsOf(key: string): Counts {
    let c = this.counts.get(key);
    if (!c) {
      const [ns, name] = key.split('/') as [string, string];
      const have = this.store.status('rule', ns, name)?.status as Partial<Counts> | undefined;
      this.counts.set(key, (c = { successMessages: have?.successMessages ?? 0, failMessages: have?.failMessages ?? 0, errors: have?.errors ?? [] }));
    }
    return c;
  }

  private write(rule: RouteRule, c: Counts): void {
    this.store.setStatusLazily('rule', rule.namespace, rule.name, { successMessages: c.successMessages, failMessages: c.failMessages, errors: c.errors });
  }
}
