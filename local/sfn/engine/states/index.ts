import type { StateDef } from '../../asl/types.js';
import type { Execution } from '../execution.js';
import type { Frame } from '../runtime.js';
import { runChoice } from './choice.js';
import { runFail } from './fail.js';
import { runMap } from './map.js';
import { runParallel } from './parallel.js';
import { runPass } from './pass.js';
import { runSucceed } from './succeed.js';
import { runTask, taskResult, taskTimedOut } from './task.js';
import { runWait, wakeWait } from './wait.js';

export type StateHandler = (x: Execution, frame: Frame, def: StateDef) => Promise<void>;

/** One handler per state type; Task and Wait also take the events that end their blocking. */
export const STATE_HANDLERS: Record<StateDef['Type'], StateHandler> = {
  Pass: runPass,
  Choice: runChoice,
  Wait: Object.assign(runWait, { wake: wakeWait }),
  Succeed: runSucceed,
  Fail: runFail,
  Task: Object.assign(runTask, { taskResult, timedOut: taskTimedOut }),
  Parallel: runParallel,
  Map: runMap,
};
