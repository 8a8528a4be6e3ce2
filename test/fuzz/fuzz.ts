import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

/**
 * Runs one fast-check property with a fixed seed and prints how many cases it ran, so a run is
 * repeatable and its size is on record. `FUZZ_SCALE=10` multiplies every property's runs (a longer
 * hunt), `FUZZ_SEED=n` replaces the fixed seeds (a new hunt), and `FUZZ_REPORT=file` appends one
 * JSON line per property (`{property, cases, seed, ms}`).
 *
 * A failure throws fast-check's report: the counterexample (shrunk), the seed and the path to replay it.
 */
export async function fuzz<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IRawProperty<Ts>,
  opts: { seed: number; numRuns: number },
): Promise<number> {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : opts.seed;
  const numRuns = Math.max(1, Math.round(opts.numRuns * Number(process.env.FUZZ_SCALE ?? 1)));
  const started = performance.now();
  const details = await fc.check(property, { seed, numRuns });
  const ms = Math.round(performance.now() - started);
  const line = { property: name, cases: details.numRuns, shrinks: details.numShrinks, seed, ms };
  console.log(`fuzz: ${name}: ${details.numRuns} cases in ${ms} ms (seed ${seed})`);
  if (process.env.FUZZ_REPORT) appendFileSync(process.env.FUZZ_REPORT, `${JSON.stringify(line)}\n`);
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${fc.defaultReportMessage(details) ?? `${name} failed`}\n${why}`, {
      cause: details.errorInstance,
    });
  }
  return details.numRuns;
}

/** A value and a JSON path into it, for near-valid mutations. */
type Path = (string | number)[];

function paths(value: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) out.push(...paths(v, [...at, i]));
  } else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...at, k]));
  return out;
}

const REMOVE = Symbol('remove');

function setAt(root: unknown, path: Path, f: (v: unknown) => unknown): unknown {
  if (path.length === 0) return f(root);
  const [head, ...rest] = path as [string | number, ...Path];
  if (Array.isArray(root)) {
    const copy = [...root];
    const r = setAt(copy[head as number], rest, f);
    if (r === REMOVE) copy.splice(head as number, 1);
    else copy[head as number] = r;
    return copy;
  }
  const copy = { ...(root as Record<string, unknown>) };
  const r = setAt(copy[head], rest, f);
  if (r === REMOVE) delete copy[head];
  // defineProperty, not assignment: a key named __proto__ stays a key.
  else Object.defineProperty(copy, head, { value: r, enumerable: true, writable: true, configurable: true });
  return copy;
}

export type Mutation =
  | { op: 'remove' }
  | { op: 'replace'; with: unknown }
  | { op: 'add'; key: string; with: unknown }
  | { op: 'stringify' }
  | { op: 'wrap' };

/** One of the small changes that turn a valid document into an almost valid one. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>({ op: 'remove' }),
  fc
    .oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('', ' ', 'x'.repeat(300), -1, 0, 1e308, true, null, [], {}))
    .map((v): Mutation => ({ op: 'replace', with: v })),
  fc
    .record({
      key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'toString', '')),
      with: fc.jsonValue({ maxDepth: 1 }),
    })
    .map(({ key, with: w }): Mutation => ({ op: 'add', key, with: w })),
  fc.constant<Mutation>({ op: 'stringify' }),
  fc.constant<Mutation>({ op: 'wrap' }),
);

/** Applies a mutation at the `pick`-th path of the value (modulo the number of paths). */
export function mutate(value: unknown, pick: number, m: Mutation): unknown {
  const all = paths(value);
  const path = all[pick % all.length] ?? [];
  const out = setAt(value, path, (v) => {
    switch (m.op) {
      case 'remove':
        return REMOVE;
      case 'replace':
        return m.with;
      case 'add':
        return v !== null && typeof v === 'object' && !Array.isArray(v)
          ? Object.defineProperty({ ...v }, m.key, { value: m.with, enumerable: true, writable: true })
          : Object.defineProperty({}, m.key, { value: m.with, enumerable: true, writable: true });
      case 'stringify':
        return JSON.stringify(v) ?? 'undefined';
      case 'wrap':
        return [v];
    }
  });
  return out === REMOVE ? null : out;
}

/** A valid value, or the same value with one to three small mutations. */
export function nearValid<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: valid as fc.Arbitrary<unknown>, weight: 1 },
    {
      arbitrary: fc
        .tuple(valid, fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 }))
        .map(([v, ms]) => ms.reduce<unknown>((acc, [pick, m]) => mutate(acc, pick, m), v)),
      weight: 3,
    },
  );
}
