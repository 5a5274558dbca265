import { describe, expect, it } from 'vitest';
import { chooseNode, type Candidate } from '../../../cloud-stub/scheduler/choose.js';

const node = (name: string, over: Partial<Candidate> = {}): Candidate => ({ name, labels: {}, unschedulable: false, ready: true, pods: 0, ...over });

describe('which node a pod goes to', () => {
  it.each<[string, Record<string, string>, Candidate[], ReturnType<typeof chooseNode>]>([
    ['the only Ready node', {}, [node('a')], { node: 'a' }],
    ['the node running the fewest pods', {}, [node('a', { pods: 3 }), node('b', { pods: 1 }), node('c', { pods: 2 })], { node: 'b' }],
    ['on a tie, the first listed', {}, [node('a', { pods: 1 }), node('b', { pods: 1 })], { node: 'a' }],
    ['the node whose labels match every key of the selector', { zone: 'hall', role: 'gw' }, [node('a', { labels: { zone: 'hall' } }), node('b', { labels: { zone: 'hall', role: 'gw' }, pods: 9 })], { node: 'b' }],
    ['not a cordoned node, however idle', {}, [node('a', { unschedulable: true }), node('b', { pods: 5 })], { node: 'b' }],
    ['not a node that is not Ready', {}, [node('a', { ready: false }), node('b', { pods: 5 })], { node: 'b' }],
    ['nothing when there is no node', {}, [], { unschedulable: '0/0 nodes are available.' }],
    ['nothing, with every reason counted as kube-scheduler words it', { zone: 'hall' }, [node('a'), node('b', { labels: { zone: 'hall' }, unschedulable: true }), node('c', { labels: { zone: 'hall' }, ready: false }), node('d', { labels: { zone: 'yard' } })],
      { unschedulable: "0/4 nodes are available: 2 node(s) didn't match Pod's node selector, 1 node(s) were unschedulable, 1 node(s) were not ready." }],
    ['a mismatch is reported before a cordon on the same node', { zone: 'hall' }, [node('a', { unschedulable: true, ready: false })], { unschedulable: "0/1 nodes are available: 1 node(s) didn't match Pod's node selector." }],
  ])('%s', (_, selector, nodes, want) => {
    expect(chooseNode(selector, nodes)).toEqual(want);
  });
});
