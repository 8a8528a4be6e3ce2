import type { HistoryEvent } from './store.js';

/**
 * The stored form of history events: `[id, type, timestamp, previousEventId, details?]`. The details
 * key is derived from the type and the `{ truncated: false }` markers are implied, so a chunk holds
 * the events' data and little else; `decodeEvent` gives back exactly what was emitted.
 */
export type StoredEvent = [number, string, number, number, Record<string, unknown>?];

const MARKERS: [field: string, marker: string][] = [
  ['input', 'inputDetails'],
  ['output', 'outputDetails'],
  ['assignedVariables', 'assignedVariablesDetails'],
];

const keyCache = new Map<string, string>();

/** The name of the details member of an event type, as the API shapes it. */
export function detailsKey(type: string): string {
  let key = keyCache.get(type);
  if (key === undefined) {
    if (type.endsWith('StateEntered')) key = 'stateEnteredEventDetails';
    else if (type.endsWith('StateExited')) key = 'stateExitedEventDetails';
    else key = `${type[0]?.toLowerCase() ?? ''}${type.slice(1)}EventDetails`;
    keyCache.set(type, key);
  }
  return key;
}

function isUntruncated(v: unknown): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { truncated?: unknown }).truncated === false &&
    Object.keys(v).length === 1
  );
}

export function encodeEvent(ev: HistoryEvent): StoredEvent {
  const raw = ev[detailsKey(ev.type)] as Record<string, unknown> | undefined;
  if (raw === undefined) return [ev.id, ev.type, ev.timestamp, ev.previousEventId];
  let details = raw;
  for (const [field, marker] of MARKERS) {
    if (field in details && isUntruncated(details[marker])) {
      if (details === raw) details = { ...raw };
      delete details[marker];
    }
  }
  return [ev.id, ev.type, ev.timestamp, ev.previousEventId, details];
}

export function decodeEvent(s: StoredEvent): HistoryEvent {
  const [id, type, timestamp, previousEventId, stored] = s;
  const ev: HistoryEvent = { id, previousEventId, timestamp, type };
  if (stored) {
    const details = { ...stored };
    for (const [field, marker] of MARKERS) {
      if (field in details && !(marker in details)) details[marker] = { truncated: false };
    }
    ev[detailsKey(type)] = details;
  }
  return ev;
}
