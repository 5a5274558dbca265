/**
 * Where a process's anonymous memory lives, from /proc/<pid>/smaps: each mapping's `Anonymous:`
 * pages, by what the mapping is. The kernel does not name V8's or glibc's mappings, so they are
 * told apart by their shape: sql.js's WASM memory sits in V8's guard reservation (gigabytes of
 * address space), a glibc malloc arena is reserved 64 MiB at a time (HEAP_MAX_SIZE on 64-bit), a
 * thread's stack is 8 MiB beside a guard page; [heap] is the main arena (brk); what is left of the
 * unnamed mappings is V8's heap (its pages, code space and large objects); a file's private pages
 * are the relocated data of the code (node, libc, add-ons).
 */
import { readFileSync } from 'node:fs';

export interface AnonSplit {
  v8Heap: number;
  wasm: number;
  mallocArenas: number;
  brkHeap: number;
  stacks: number;
  code: number;
}

const GIB = 1024 * 1024; // in KiB

interface Mapping {
  start: number;
  end: number;
  perms: string;
  name: string;
  anonKiB: number;
}

function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) out.push({ start: parseInt(head[1] as string, 16), end: parseInt(head[2] as string, 16), perms: head[3] as string, name: head[4] ?? '', anonKiB: 0 });
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    const last = out.at(-1);
    if (anon && last) last.anonKiB += Number(anon[1]);
  }
  return out;
}

/** an unnamed mapping's part: its used pages with the reservation it grows into (---p) right after, below a guard page or not */
function classify(all: readonly Mapping[], i: number, out: AnonSplit): number {
  const m = all[i] as Mapping;
  const guarded = m.perms.startsWith('---') && m.end - m.start === 4096 && all[i + 1]?.start === m.end && all[i + 1]?.name === '';
  const used = guarded ? (all[i + 1] as Mapping) : m;
  let end = used.end;
  let j = guarded ? i + 2 : i + 1;
  for (; j < all.length && (all[j] as Mapping).name === '' && (all[j] as Mapping).perms.startsWith('---') && (all[j] as Mapping).start === end; j++) end = (all[j] as Mapping).end;
  const sizeKiB = (end - used.start) / 1024;
  if (guarded && sizeKiB === 8 * 1024) out.stacks += used.anonKiB; // a thread's stack, below its guard page
  else if (sizeKiB === 64 * 1024 || sizeKiB === 128 * 1024) out.mallocArenas += used.anonKiB;
  else out.v8Heap += used.anonKiB;
  return j;
}

/** the split of RssAnon, in KiB */
export function anonSplit(pid: number): AnonSplit {
  const out: AnonSplit = { v8Heap: 0, wasm: 0, mallocArenas: 0, brkHeap: 0, stacks: 0, code: 0 };
  const all = mappings(pid);
  for (let i = 0; i < all.length; ) {
    const m = all[i] as Mapping;
    if (m.name === '[heap]') out.brkHeap += m.anonKiB;
    else if (m.name === '[stack]') out.stacks += m.anonKiB;
    else if (m.name.startsWith('/')) out.code += m.anonKiB;
    else if (m.name !== '') out.v8Heap += m.anonKiB; // [anon:...] names some kernels give
    if (m.name !== '') {
      i++;
      continue;
    }
    // unnamed mappings side by side: WASM memory when they span V8's gigabytes of guard reservation
    let k = i + 1;
    while (k < all.length && (all[k] as Mapping).name === '' && (all[k] as Mapping).start === (all[k - 1] as Mapping).end) k++;
    if (((all[k - 1] as Mapping).end - m.start) / 1024 >= 4 * GIB) {
      for (let x = i; x < k; x++) out.wasm += (all[x] as Mapping).anonKiB;
      i = k;
      continue;
    }
    while (i < k) i = classify(all, i, out);
  }
  return out;
}
