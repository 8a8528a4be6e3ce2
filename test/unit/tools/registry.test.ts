import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ToolUse } from '../../../shared/agents/schema.js';
import { ConfigError, ToolInputInvalid } from '../../../shared/errors.js';
import { builtinTools } from '../../../shared/tools/builtins/index.js';
import { createToolRegistry } from '../../../shared/tools/registry.js';
import { defineTool, type ToolContext } from '../../../shared/tools/types.js';

const WHERE = 'agents/refunds.yaml: tools[0]';

/** A project-style tool that records what it ran with. */
const lookupOrder = defineTool({
  kind: 'lookup_order',
  description: 'Looks up an order by id.',
  settings: z.strictObject({ table: z.string().min(1), writes: z.boolean().default(false) }),
  sensitive: (s) => s.writes,
  inputSchema: () => ({
    type: 'object',
    properties: {
      orderId: { type: 'string' },
      amount: { type: 'number' },
      currency: { type: 'string', enum: ['EUR', 'USD'] },
    },
    required: ['orderId'],
    additionalProperties: false,
  }),
  run: async (args, ctx, settings) => ({ args, table: settings.table, key: ctx.idempotencyKey }),
});

function use(fields: Partial<ToolUse> & { use: string }): ToolUse {
  return ToolUse.parse({ name: 'lookup', ...fields });
}

function context(): ToolContext {
  const config = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  return {
    taskId: 't-1',
    agent: 'refunds',
    step: 2,
    callId: 'call_1',
    idempotencyKey: 't-1#2#call_1',
    principal: { tenant: 'acme', subject: 'u-1' },
    clients: { s3: new S3Client(config), sqs: new SQSClient(config), lambda: new LambdaClient(config) },
    signal: new AbortController().signal,
  };
}

describe('createToolRegistry', () => {
  it('lists the registered kinds, sorted', () => {
    const registry = createToolRegistry([lookupOrder, ...builtinTools]);
    expect(registry.kinds).toEqual(['http_request', 'lambda_invoke', 'lookup_order', 's3_get', 's3_put', 'sqs_send']);
    expect(registry.has('s3_get')).toBe(true);
    expect(registry.has('s3_delete')).toBe(false);
  });

  it('refuses a kind registered twice', () => {
    expect(() => createToolRegistry([lookupOrder, lookupOrder])).toThrow(ConfigError);
    expect(() => createToolRegistry([lookupOrder, lookupOrder])).toThrow(/lookup_order.*twice/);
  });
});

describe('bind', () => {
  const registry = createToolRegistry([lookupOrder, ...builtinTools]);

  it('refuses an unknown kind, naming where and the known kinds', () => {
    const bind = () => registry.bind(use({ use: 'lookup_ordr', settings: { table: 'orders' } }), WHERE);
    expect(bind).toThrow(ConfigError);
    expect(bind).toThrow(`${WHERE}: unknown tool kind 'lookup_ordr' (known kinds: http_request, lambda_invoke,`);
  });

  it('names the settings path and the schema message of invalid settings', () => {
    const bind = () => registry.bind(use({ use: 'lookup_order', settings: { table: '' } }), WHERE);
    expect(bind).toThrow(ConfigError);
    expect(bind).toThrow(`${WHERE}.settings.table: Too small`);
  });

  it('names an array index in the settings path', () => {
    const bind = () =>
      registry.bind(use({ use: 'http_request', settings: { allowedHosts: ['api.example.com', 'not a host'] } }), WHERE);
    expect(bind).toThrow(`${WHERE}.settings.allowedHosts[1]: must be a hostname`);
  });

  it('refuses an unknown settings field', () => {
    const bind = () => registry.bind(use({ use: 'lookup_order', settings: { table: 'orders', tabel: 'x' } }), WHERE);
    expect(bind).toThrow(/agents\/refunds\.yaml: tools\[0\]\.settings: Unrecognized key: "tabel"/);
  });

  it('binds the name, the kind, the default description and the defaulted settings', async () => {
    const tool = registry.bind(use({ use: 'lookup_order', settings: { table: 'orders' } }), WHERE);
    expect(tool).toMatchObject({
      name: 'lookup',
      kind: 'lookup_order',
      description: 'Looks up an order by id.',
      sensitive: false,
    });
    expect(tool.inputSchema).toMatchObject({ required: ['orderId'] });
    await expect(tool.run({ orderId: 'o-1' }, context())).resolves.toEqual({
      args: { orderId: 'o-1' },
      table: 'orders',
      key: 't-1#2#call_1',
    });
  });

  it("prefers the agent's own description", () => {
    const tool = registry.bind(
      use({ use: 'lookup_order', description: 'Finds a refund order.', settings: { table: 'orders' } }),
      WHERE,
    );
    expect(tool.description).toBe('Finds a refund order.');
  });

  it('takes the sensitivity the kind declares for the settings', () => {
    const tool = registry.bind(use({ use: 'lookup_order', settings: { table: 'orders', writes: true } }), WHERE);
    expect(tool.sensitive).toBe(true);
  });

  it('raises the sensitivity when the agent asks', () => {
    const tool = registry.bind(use({ use: 'lookup_order', sensitive: true, settings: { table: 'orders' } }), WHERE);
    expect(tool.sensitive).toBe(true);
  });

  it('accepts sensitive: false on a tool that is not sensitive', () => {
    const tool = registry.bind(use({ use: 'lookup_order', sensitive: false, settings: { table: 'orders' } }), WHERE);
    expect(tool.sensitive).toBe(false);
  });

  it('refuses to lower the sensitivity of a sensitive tool', () => {
    const bind = () =>
      registry.bind(use({ use: 'lookup_order', sensitive: false, settings: { table: 'orders', writes: true } }), WHERE);
    expect(bind).toThrow(ConfigError);
    expect(bind).toThrow(/agents\/refunds\.yaml: tools\[0\]: cannot lower/);
  });

  it('refuses an input schema that does not compile', () => {
    const broken = defineTool({
      ...lookupOrder,
      kind: 'broken',
      inputSchema: () => ({ type: 'object', properties: { a: { type: 'strnig' } } }),
    });
    const bind = () => createToolRegistry([broken]).bind(use({ use: 'broken', settings: { table: 't' } }), WHERE);
    expect(bind).toThrow(ConfigError);
    expect(bind).toThrow(/does not compile/);
  });

  it('binds every built-in kind with minimal settings', () => {
    const uses: ToolUse[] = [
      use({ use: 'http_request', settings: { allowedHosts: ['api.example.com'] } }),
      use({ use: 's3_get', settings: { bucket: 'reports' } }),
      use({ use: 's3_put', settings: { bucket: 'reports' } }),
      use({ use: 'sqs_send', settings: { queues: ['out'] } }),
      use({ use: 'lambda_invoke', settings: { functions: ['pricing'] } }),
    ];
    const sensitivity = uses.map((u) => registry.bind(u, WHERE).sensitive);
    expect(sensitivity).toEqual([false, false, true, true, true]);
  });
});

describe('validate', () => {
  const tool = createToolRegistry([lookupOrder]).bind(use({ use: 'lookup_order', settings: { table: 'o' } }), WHERE);

  it('accepts arguments that satisfy the schema', () => {
    expect(tool.validate({ orderId: 'o-1', amount: 12.5 })).toEqual([]);
  });

  it('reports a missing required property', () => {
    expect(tool.validate({})).toEqual(["must have required property 'orderId'"]);
  });

  it('reports a wrong type with its location', () => {
    expect(tool.validate({ orderId: 'o-1', amount: '12' })).toEqual(['/amount must be number']);
  });

  it('reports every problem at once', () => {
    expect(tool.validate({ amount: '12' })).toEqual([
      "must have required property 'orderId'",
      '/amount must be number',
    ]);
  });

  it('names an unexpected property', () => {
    expect(tool.validate({ orderId: 'o-1', note: 'x' })).toEqual(["must NOT have additional properties ('note')"]);
  });

  it('lists the allowed values of an enum', () => {
    expect(tool.validate({ orderId: 'o-1', currency: 'GBP' })).toEqual([
      '/currency must be equal to one of the allowed values: "EUR", "USD"',
    ]);
  });

  it('does not coerce types', () => {
    expect(tool.validate({ orderId: 42 })).toEqual(['/orderId must be string']);
  });

  it.each([
    ['null', null],
    ['an array', [{ orderId: 'o-1' }]],
    ['a string', '{"orderId":"o-1"}'],
    ['a number', 7],
  ])('refuses %s as arguments', (_label, args) => {
    expect(tool.validate(args)).toEqual(['arguments must be a JSON object']);
  });

  it('refuses to run with invalid arguments', async () => {
    await expect(tool.run({ amount: 1 }, context())).rejects.toThrow(ToolInputInvalid);
  });
});
