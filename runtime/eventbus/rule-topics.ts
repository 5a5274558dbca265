/**
 * The topics that go to the cloud besides `$hw/events/upload/#`: those of the router's rules whose
 * source is this node's eventbus (`<namespace>/<sourceResource.topic>`), counted, since two rules
 * may share one topic.
 */
import type { ObjectChange } from '../metamanager/source.js';

export class RuleTopics {
  /** rule → the topic apps publish on for it */
  private readonly ofRule = new Map<string, string>();
  /** topic → how many rules take it */
  private readonly rules = new Map<string, number>();

  has(topic: string): boolean {
    return this.rules.has(topic);
  }

  topics(): string[] {
    return [...this.rules.keys()];
  }

  /** a rule changed: the topic no rule takes any more, and the one a rule now takes first, if any */
  change(c: ObjectChange): { gone?: string; added?: string } {
    if (c.kind !== 'rule') return {};
    const key = `${c.namespace}/${c.name}`;
    const before = this.ofRule.get(key);
    const res = (c.object as { spec?: { sourceResource?: { topic?: unknown } } } | undefined)?.spec?.sourceResource;
    const after = c.operation !== 'delete' && typeof res?.topic === 'string' ? `${c.namespace}/${res.topic}` : undefined;
    if (before === after) return {};
    const out: { gone?: string; added?: string } = {};
    if (before !== undefined) {
      const n = (this.rules.get(before) ?? 1) - 1;
      if (n > 0) this.rules.set(before, n);
      else {
        this.rules.delete(before);
        out.gone = before;
      }
      this.ofRule.delete(key);
    }
    if (after !== undefined) {
      this.ofRule.set(key, after);
      this.rules.set(after, (this.rules.get(after) ?? 0) + 1);
      out.added = after;
    }
    return out;
  }
}
