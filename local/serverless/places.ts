import type { Loc } from './errors.js';

/**
 * Where each part of a loaded model was written, so validateService can name the line of a problem
 * without the model carrying source positions in its public shape.
 */

export interface Place {
  loc: Loc | undefined;
  /** The property path, e.g. `functions.ingest.events[0].sqs`. */
  path: string;
}

const places = new WeakMap<object, Place>();

export function recordPlace(part: object, loc: Loc | undefined, path: string): void {
  places.set(part, { loc, path });
}

export function placeOf(part: object): Place | undefined {
  return places.get(part);
}
