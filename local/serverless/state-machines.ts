import { copyLocs, fail, keyLocOf, type Loc, locOf } from './errors.js';
import { containsIntrinsic, evaluate, intrinsicKey, sub } from './intrinsics.js';
import type { StateMachineModel } from './model.js';
import { generatedName, stateMachineLogicalId, stateMachineOutputId } from './naming.js';
import { recordPlace } from './places.js';
import { expectObject, isObject, type Obj, optionalBoolean, optionalObject, optionalString, prop } from './shape.js';
import type { Template } from './template.js';

/**
 * State machines: `stepFunctions.stateMachines` in serverless-step-functions' syntax, and
 * AWS::StepFunctions::StateMachine resources. Definitions get their intrinsic functions resolved the
 * way the plugin has CloudFormation do it: each intrinsic object is replaced by its value, function
 * keys stand for their functions, and when the definition had any intrinsic or `#{...}` pseudo
 * parameter, the whole definition also goes through Fn::Sub (so `${AWS::AccountId}` works there).
 */

export interface StateMachineDraft {
  key: string;
  logicalId: string;
  outputId: string;
  name: string;
  config: Obj;
  loc: Loc | undefined;
}

/** Keys serverless-step-functions 3.x accepts on a state machine (its schema rejects others). */
const PLUGIN_KEYS = [
  'id',
  'name',
  'type',
  'definition',
  'events',
  'role',
  'useExactVersion',
  'dependsOn',
  'tags',
  'alarms',
  'notifications',
  'retain',
  'loggingConfig',
  'tracingConfig',
  'encryptionConfig',
  'inheritGlobalTags',
  'iamRoleStatements',
];

export function readStateMachineDrafts(
  section: unknown,
  service: string,
  stage: string,
  loc: Loc | undefined,
  warnings: string[],
): { drafts: StateMachineDraft[]; noOutput: boolean } {
  const stepFunctions = optionalObject(section, 'stepFunctions', loc);
  const field = (k: string) => locOf(stepFunctions, k, loc);
  if (stepFunctions.activities !== undefined)
    warnings.push('stepFunctions.activities are not emulated by the local cloud');
  const noOutput = optionalBoolean(stepFunctions.noOutput, 'stepFunctions.noOutput', field('noOutput')) ?? false;
  const machines = optionalObject(stepFunctions.stateMachines, 'stepFunctions.stateMachines', field('stateMachines'));
  const drafts: StateMachineDraft[] = [];
  for (const [key, raw] of Object.entries(machines)) {
    const at = keyLocOf(machines, key, field('stateMachines'));
    const what = `stepFunctions.stateMachines.${key}`;
    const config = expectObject(raw, what, at);
    for (const k of Object.keys(config)) {
      const kLoc = keyLocOf(config, k, at);
      if (k === 'definitionString') {
        fail(
          `${what}.definitionString is not a serverless-step-functions key: give the JSON text to 'definition'`,
          kLoc,
        );
      }
      if (!PLUGIN_KEYS.includes(k))
        fail(`unknown property '${k}' in ${what} (serverless-step-functions rejects it)`, kLoc);
    }
    if (config.events !== undefined) warnings.push(`${what}.events are not emulated by the local cloud`);
    const id = optionalString(config.id, `${what}.id`, locOf(config, 'id', at));
    const name = optionalString(config.name, `${what}.name`, locOf(config, 'name', at));
    const logicalId = stateMachineLogicalId(key, id, name);
    drafts.push({
      key,
      logicalId,
      outputId: stateMachineOutputId(key, id, name),
      name: name ?? generatedName(service, stage, logicalId),
      config,
      loc: at,
    });
  }
  return { drafts, noOutput };
}

function machineType(value: unknown, what: string, loc: Loc | undefined): 'STANDARD' | 'EXPRESS' {
  if (value === undefined || value === null) return 'STANDARD';
  if (value === 'STANDARD' || value === 'EXPRESS') return value;
  fail(`${what} must be STANDARD or EXPRESS, got ${JSON.stringify(value)}`, loc);
}

function parseDefinitionText(text: string, what: string, loc: Loc | undefined): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    fail(`${what} is not valid JSON: ${(e as Error).message}`, loc);
  }
  return expectObject(parsed, what, loc);
}

/** Replaces intrinsic objects by their values; a Wait's Seconds from an intrinsic becomes a number. */
function resolveIntrinsics(value: unknown, scope: Template, loc: Loc | undefined, inWaitSeconds = false): unknown {
  if (intrinsicKey(value)) {
    const resolved = evaluate(value, scope, loc);
    return inWaitSeconds && typeof resolved === 'string' && /^\d+$/.test(resolved) ? Number(resolved) : resolved;
  }
  if (Array.isArray(value)) {
    const out = value.map((item, i) => resolveIntrinsics(item, scope, locOf(value, i, loc)));
    copyLocs(value, out);
    return out;
  }
  if (!isObject(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = resolveIntrinsics(v, scope, locOf(value, k, loc), value.Type === 'Wait' && k === 'Seconds');
  }
  copyLocs(value, out);
  return out;
}

/** Applies `f` to every string, keys included. */
function mapStrings(value: unknown, f: (s: string, loc: Loc | undefined) => string, loc: Loc | undefined): unknown {
  if (typeof value === 'string') return f(value, loc);
  if (Array.isArray(value)) {
    const list = value.map((item, i) => mapStrings(item, f, locOf(value, i, loc)));
    copyLocs(value, list);
    return list;
  }
  if (!isObject(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) out[f(k, loc)] = mapStrings(v, f, locOf(value, k, loc));
  copyLocs(value, out);
  return out;
}

function hasPseudoParameter(value: unknown): boolean {
  return JSON.stringify(value).includes('#{');
}

export function resolvePluginDefinition(
  definition: unknown,
  scope: Template,
  what: string,
  loc: Loc | undefined,
): object {
  if (typeof definition === 'string') return parseDefinitionText(definition, what, loc);
  const def = expectObject(definition, what, loc);
  if (!containsIntrinsic(def) && !hasPseudoParameter(def)) return def;
  const resolved = resolveIntrinsics(def, scope, loc);
  const subbed = mapStrings(
    resolved,
    (s, at) =>
      sub(
        s.replace(/#\{([^}]+)\}/g, (_, name: string) => `\${${name}}`),
        scope,
        at,
      ),
    loc,
  );
  return expectObject(subbed, what, loc);
}

export function buildStateMachines(
  drafts: StateMachineDraft[],
  template: Template,
  noOutput: boolean,
  outputs: Record<string, string>,
): StateMachineModel[] {
  const scope = template.forDefinitions();
  const machines: StateMachineModel[] = drafts.map((draft) => {
    const what = `stepFunctions.stateMachines.${draft.key}`;
    const definition = prop(draft.config, 'definition', draft.loc);
    if (definition.value === undefined || definition.value === null) fail(`${what} needs a definition`, draft.loc);
    const model: StateMachineModel = {
      logicalId: draft.logicalId,
      name: draft.name,
      definition: resolvePluginDefinition(definition.value, scope, `${what}.definition`, definition.loc),
      type: machineType(draft.config.type, `${what}.type`, locOf(draft.config, 'type', draft.loc)),
    };
    recordPlace(model, draft.loc, what);
    if (!noOutput)
      outputs[draft.outputId] = `arn:aws:states:${template.region}:${template.accountId}:stateMachine:${draft.name}`;
    return model;
  });
  for (const entry of template.input.resources.values()) {
    if (entry.type !== 'AWS::StepFunctions::StateMachine' || !entry.created) continue;
    machines.push(resourceStateMachine(entry.logicalId, entry.properties, entry.loc, template));
  }
  return machines;
}

/** A state machine written as raw CloudFormation: Definition or DefinitionString (+ substitutions). */
function resourceStateMachine(
  id: string,
  properties: Obj,
  loc: Loc | undefined,
  template: Template,
): StateMachineModel {
  const what = `resources.Resources.${id}`;
  const at = (k: string) => locOf(properties, k, loc);
  let definition: object;
  if (properties.Definition !== undefined) {
    definition = expectObject(
      evaluate(properties.Definition, template, at('Definition')),
      `${what}.Definition`,
      at('Definition'),
    );
  } else if (properties.DefinitionString !== undefined) {
    const text = evaluate(properties.DefinitionString, template, at('DefinitionString'));
    if (typeof text !== 'string') fail(`${what}.DefinitionString must be a string`, at('DefinitionString'));
    definition = parseDefinitionText(text, `${what}.DefinitionString`, at('DefinitionString'));
  } else {
    fail(`${what} needs Definition or DefinitionString (DefinitionS3Location is not emulated)`, loc);
  }
  const substitutions = optionalObject(
    evaluate(properties.DefinitionSubstitutions, template, at('DefinitionSubstitutions')),
    `${what}.DefinitionSubstitutions`,
    at('DefinitionSubstitutions'),
  );
  if (Object.keys(substitutions).length > 0) {
    definition = mapStrings(
      definition,
      (s) =>
        s.replace(/\$\{([^}]+)\}/g, (whole, name: string) =>
          Object.hasOwn(substitutions, name) ? String(substitutions[name]) : whole,
        ),
      loc,
    ) as object;
  }
  const model: StateMachineModel = {
    logicalId: id,
    name: template.nameOf(id, loc),
    definition,
    type: machineType(
      evaluate(properties.StateMachineType, template, loc),
      `${what}.StateMachineType`,
      at('StateMachineType'),
    ),
  };
  recordPlace(model, loc, what);
  return model;
}
