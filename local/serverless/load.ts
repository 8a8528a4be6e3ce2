import { randomUUID } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { ACCOUNT_ID, REGION } from '../service.js';
import { readConfigFile } from './config-file.js';
import { readDotenv } from './dotenv.js';
import { fail, keyLocOf, type Loc, locOf } from './errors.js';
import { buildFunctions, eventBuckets, readFunctionDrafts } from './functions.js';
import { readHttpApiAuthorizers } from './http-api.js';
import { evaluate } from './intrinsics.js';
import type { BucketModel, LoadOptions, ServiceModel } from './model.js';
import { eventBucketLogicalId, type Place } from './naming.js';
import { placeOf, recordPlace } from './places.js';
import { applyResourceConditions, buildBuckets, buildQueues, readResources } from './resources.js';
import { expectObject, expectString, isObject, type Obj, optionalObject, prop } from './shape.js';
import { buildStateMachines, readStateMachineDrafts } from './state-machines.js';
import { Template } from './template.js';
import { VariableResolver } from './variables/resolve.js';

/**
 * Reads a serverless.yml (Serverless Framework v3 / osls with serverless-step-functions) into the
 * model of what the local cloud creates. Syntax the local cloud cannot honour fails with the file,
 * line and column; things it does not emulate (other resource or event types) become warnings.
 */

const DEFAULT_ENDPOINT = 'http://127.0.0.1:4566';

/** Top-level keys of a v3 service file; `stepFunctions` comes with serverless-step-functions. */
const TOP_LEVEL_KEYS = new Set([
  'service',
  'frameworkVersion',
  'configValidationMode',
  'deprecationNotificationMode',
  'disabledDeprecations',
  'useDotenv',
  'variablesResolutionMode',
  'unresolvedVariablesNotificationMode',
  'provider',
  'package',
  'functions',
  'layers',
  'resources',
  'plugins',
  'custom',
  'params',
  'stepFunctions',
  'org',
  'app',
  'console',
  'dashboard',
  'outputs',
]);

/** Plugins whose work (building, local tooling) does not change what the stack contains. */
const PLUGINS_WITHOUT_STACK_EFFECT = new Set([
  'serverless-step-functions',
  'serverless-esbuild',
  'serverless-plugin-typescript',
  'serverless-offline',
  'serverless-prune-plugin',
]);

function checkTopLevel(config: Obj, loc: Loc | undefined): void {
  for (const key of Object.keys(config)) {
    const at = keyLocOf(config, key, loc);
    if (key === 'constructs')
      fail("'constructs' belong to the serverless-lift plugin, which the local cloud does not emulate", at);
    if (!TOP_LEVEL_KEYS.has(key))
      fail(`unknown top-level key '${key}' (a plugin's construct the local cloud does not emulate?)`, at);
  }
}

function checkPlugins(config: Obj, loc: Loc | undefined, warnings: string[]): void {
  const plugins = prop(config, 'plugins', loc);
  const raw = plugins.value;
  const list = isObject(raw) ? raw.modules : raw;
  const names = Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string') : [];
  for (const name of names) {
    if (!PLUGINS_WITHOUT_STACK_EFFECT.has(name)) warnings.push(`plugin ${name} is not emulated by the local cloud`);
  }
  if (config.stepFunctions !== undefined && !names.includes('serverless-step-functions')) {
    warnings.push(
      'stepFunctions is set but the serverless-step-functions plugin is not listed: AWS would not create these state machines',
    );
  }
}

/** The local HTTP API speaks payload 2.0 and applies no CORS (its JWT authorizers: http-api.ts). */
function checkHttpApi(provider: Obj, warnings: string[]): void {
  if (!isObject(provider.httpApi)) return;
  const { cors, payload } = provider.httpApi;
  if (cors !== undefined && cors !== false)
    warnings.push('provider.httpApi.cors is not emulated by the local HTTP API');
  if (payload !== undefined && String(payload) !== '2.0') {
    warnings.push(
      `provider.httpApi.payload ${String(payload)} is not emulated: the local HTTP API sends payload format 2.0`,
    );
  }
}

function readOutputs(raw: Obj, template: Template, into: Record<string, string>): void {
  for (const [name, def] of Object.entries(raw)) {
    const at = locOf(raw, name, undefined);
    const output = expectObject(def, `resources.Outputs.${name}`, at);
    if (typeof output.Condition === 'string' && !template.condition(output.Condition, at)) continue;
    const value = evaluate(output.Value, template, locOf(output, 'Value', at));
    if (typeof value === 'number' || typeof value === 'boolean') into[name] = String(value);
    else into[name] = expectString(value, `resources.Outputs.${name}.Value`, locOf(output, 'Value', at));
  }
}

/** Bucket notifications from s3 events: on the created bucket, or on the named `existing` one. */
function addEventNotifications(model: ServiceModel, eventLogicalIds: Map<string, string>): void {
  const byName = new Map<string, BucketModel>(model.buckets.map((b) => [b.name, b]));
  for (const fn of model.functions) {
    for (const event of fn.events) {
      if (!('s3' in event)) continue;
      const { bucket, event: type, rules, existing } = event.s3;
      let target = byName.get(bucket);
      if (!target) {
        target = {
          logicalId: eventLogicalIds.get(bucket) ?? eventBucketLogicalId(bucket),
          name: bucket,
          notifications: [],
          ...(existing ? { existing: true as const } : {}),
        };
        byName.set(bucket, target);
        model.buckets.push(target);
        const place = placeOf(event);
        recordPlace(target, place?.loc, place?.path ?? `functions.${fn.key}`);
      }
      const filter = Object.assign({}, ...rules) as { prefix?: string; suffix?: string };
      target.notifications.push({ event: type, ...filter, functionName: fn.name });
    }
  }
}

function loadSync(file: string, opts: LoadOptions): ServiceModel {
  const abs = resolve(file);
  const root = dirname(abs);
  const raw = readConfigFile(abs, basename(abs));
  const rootLoc: Loc = { file: basename(abs), line: 1, col: 1 };
  const rawConfig = expectObject(raw, basename(abs), rootLoc);
  const region = opts.region ?? REGION;
  const accountId = opts.accountId ?? ACCOUNT_ID;
  const place: Place = {
    region,
    accountId,
    endpoint: opts.endpoint ?? DEFAULT_ENDPOINT,
    ...(opts.issuerUrl !== undefined ? { issuerUrl: opts.issuerUrl } : {}),
  };
  const options: Record<string, unknown> = { ...opts.options };
  if (opts.stage !== undefined) options.stage = opts.stage;
  if (opts.region !== undefined) options.region = opts.region;

  let env: NodeJS.ProcessEnv = opts.env ?? process.env;
  if (rawConfig.useDotenv === true) {
    const rawStage = isObject(rawConfig.provider) ? rawConfig.provider.stage : undefined;
    const stage = opts.stage ?? (typeof rawStage === 'string' && !rawStage.includes('${') ? rawStage : 'dev');
    env = { ...readDotenv(root, stage), ...env };
  }
  const resolver = new VariableResolver(rawConfig, { root, env, options, region, accountId, instanceId: randomUUID() });
  const config = resolver.resolveAll() as Obj;
  const stage = resolver.stage();
  const warnings: string[] = [];
  checkTopLevel(config, rootLoc);
  checkPlugins(config, rootLoc, warnings);

  const service = expectString(config.service, 'service', locOf(config, 'service', rootLoc));
  const providerProp = prop(config, 'provider', rootLoc);
  const provider = expectObject(providerProp.value, 'provider', providerProp.loc);
  if (provider.name !== 'aws')
    fail(`provider.name must be aws, got ${JSON.stringify(provider.name)}`, locOf(provider, 'name', providerProp.loc));
  if (typeof provider.region === 'string' && provider.region !== region) {
    warnings.push(`provider.region ${provider.region} is served by the local cloud as ${region}`);
  }

  checkHttpApi(provider, warnings);
  const functionsProp = prop(config, 'functions', rootLoc);
  const drafts = readFunctionDrafts(functionsProp.value, service, stage, functionsProp.loc);
  const smProp = prop(config, 'stepFunctions', rootLoc);
  const machines = readStateMachineDrafts(smProp.value, service, stage, smProp.loc, warnings);
  const resourcesProp = prop(config, 'resources', rootLoc);
  const section = readResources(resourcesProp.value, resourcesProp.loc, warnings);
  const providerS3 = optionalObject(provider.s3, 'provider.s3', locOf(provider, 's3', providerProp.loc));
  const created = eventBuckets(drafts, providerS3);
  // A resource with the logical id the framework gives an event bucket extends that bucket.
  for (const [id, bucket] of created) {
    const entry = section.resources.get(id);
    if (!entry) continue;
    if (entry.properties.BucketName === undefined) entry.properties.BucketName = bucket.name;
    created.delete(id);
  }

  const template = new Template({
    service,
    stage,
    place,
    resources: section.resources,
    functions: new Map(drafts.map((d) => [d.logicalId, { key: d.key, name: d.name }])),
    stateMachines: new Map(machines.drafts.map((m) => [m.logicalId, m.name])),
    eventBuckets: new Map([...created].map(([id, b]) => [id, b.name])),
    conditions: section.conditions,
    mappings: section.mappings,
  });
  applyResourceConditions(template);
  const authorizers = readHttpApiAuthorizers(provider, template, place, warnings);

  const outputs: Record<string, string> = {};
  const model: ServiceModel = {
    service,
    stage,
    region,
    accountId,
    root,
    functions: buildFunctions(drafts, provider, template, warnings, authorizers),
    queues: buildQueues(template, warnings),
    buckets: buildBuckets(template, warnings),
    stateMachines: buildStateMachines(machines.drafts, template, machines.noOutput, outputs),
    warnings,
  };
  for (const q of model.queues)
    recordPlace(q, section.resources.get(q.logicalId)?.loc, `resources.Resources.${q.logicalId}`);
  for (const b of model.buckets)
    recordPlace(b, section.resources.get(b.logicalId)?.loc, `resources.Resources.${b.logicalId}`);
  addEventNotifications(model, new Map([...created].map(([id, b]) => [b.name, id])));
  const jwtAuthorizers = [...authorizers.values()].flatMap((a) => (a.kind === 'jwt' ? [a.model] : []));
  if (jwtAuthorizers.length > 0)
    model.httpApi = { authorizers: Object.fromEntries(jwtAuthorizers.map((a) => [a.name, a])) };
  readOutputs(section.outputs, template, outputs);
  if (Object.keys(outputs).length > 0) model.outputs = outputs;
  return model;
}

/**
 * Loads a serverless.yml into the model of what the local cloud creates.
 *
 * @example
 * const model = await loadService('serverless.yml', { stage: 'dev' });
 * for (const q of model.queues) console.log(q.name, q.attributes);
 */
export async function loadService(file: string, opts: LoadOptions = {}): Promise<ServiceModel> {
  return loadSync(file, opts);
}
