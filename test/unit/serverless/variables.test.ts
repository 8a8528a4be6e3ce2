// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are serverless.yml and CloudFormation syntax, not templates
import { describe, expect, it } from 'vitest';
import { at, env, load, loadError, yml } from './service-dir.js';

/** A service with one function whose environment holds the values under test. */
function withEnv(values: Record<string, string>, extra = ''): string {
  const lines = Object.entries(values).map(([k, v]) => `        ${k}: ${v}`);
  return yml(`${extra}functions:\n  f:\n    handler: h.handler\n    environment:\n${lines.join('\n')}\n`);
}

describe('self: references', () => {
  it('reads nested properties, list items and chains of references', async () => {
    const model = await load(
      withEnv(
        { A: '${self:custom.a}', B: '${self:custom.list.1.name}', C: '${self:custom.c}', S: '${self:service}' },
        "custom:\n  a: x\n  list:\n    - name: first\n    - name: second\n  c: ${self:custom.a}-${self:custom.b}\n  b: '7'\n",
      ),
    );
    expect(env(model)).toMatchObject({ A: 'x', B: 'second', C: 'x-7', S: 'svc' });
  });

  it('keeps the type of a whole-value variable and joins mixed text into a string', async () => {
    const model = await load(
      yml(
        'custom:\n  limits: { steps: 12, tags: [a, b] }\nfunctions:\n  f:\n    handler: h.handler\n    timeout: ${self:custom.limits.steps}\n    environment:\n      STEPS: steps=${self:custom.limits.steps}\n',
      ),
    );
    expect(model.functions[0]?.timeoutSeconds).toBe(12);
    expect(env(model).STEPS).toBe('steps=12');
  });

  it('reports a circular reference where it is written', async () => {
    const text = withEnv({ A: '${self:custom.a}' }, 'custom:\n  a: ${self:custom.b}\n  b: ${self:custom.a}\n');
    const message = await loadError(text);
    expect(message).toMatch(/circular variable reference at 'custom\.(a|b)'/);
    expect(message).toMatch(/^serverless\.yml:\d+:\d+: /);
  });

  it('refuses an object inside a string', async () => {
    const text = withEnv({ A: 'x-${self:custom}' }, 'custom:\n  a: 1\n');
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, '${self:custom}')}: \${self:custom} resolves to an object, which cannot be part of a string`,
    );
  });

  it('names a missing property when there is no fallback', async () => {
    const text = withEnv({ A: '${self:custom.nope}' });
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, '${self:custom.nope}')}: cannot resolve \${self:custom.nope}: 'custom.nope' is not set in serverless.yml`,
    );
  });
});

describe('stage, options and AWS values', () => {
  const text = withEnv(
    {
      STAGE: '${sls:stage}',
      OPT: "${opt:stage, 'none'}",
      TENANT: "${opt:tenant, 'default'}",
      REGION: '${aws:region}',
      ACCOUNT: '${aws:accountId}',
    },
    '',
  ).replace('provider:\n  name: aws\n', 'provider:\n  name: aws\n  stage: staging\n');

  it('takes the stage from the option, else provider.stage', async () => {
    expect(env(await load(text))).toMatchObject({ STAGE: 'staging', OPT: 'none', TENANT: 'default' });
    const model = await load(text, { stage: 'prod', options: { tenant: 'acme' } });
    expect(model.stage).toBe('prod');
    expect(env(model)).toMatchObject({ STAGE: 'prod', OPT: 'prod', TENANT: 'acme' });
  });

  it("defaults the stage to 'dev'", async () => {
    const model = await load(withEnv({ STAGE: '${sls:stage}' }));
    expect(model.stage).toBe('dev');
    expect(model.functions[0]?.name).toBe('svc-dev-f');
  });

  it('gives the local region and account', async () => {
    expect(env(await load(text))).toMatchObject({ REGION: 'us-east-1', ACCOUNT: '000000000000' });
    const model = await load(text, { region: 'eu-west-1', accountId: '123456789012' });
    expect(env(model)).toMatchObject({ REGION: 'eu-west-1', ACCOUNT: '123456789012' });
  });

  it('fails on a missing option without a fallback', async () => {
    const t = withEnv({ A: '${opt:tenant}' });
    expect(await loadError(t)).toBe(
      `serverless.yml:${at(t, '${opt:tenant}')}: cannot resolve \${opt:tenant}: option --tenant was not given`,
    );
  });
});

describe('env: variables', () => {
  it('reads variables, falls back on unset or empty ones, and nests', async () => {
    const model = await load(
      withEnv({
        HOME_DIR: '${env:HOME_DIR}',
        UNSET: "${env:NOPE, 'fallback'}",
        EMPTY: "${env:EMPTY, 'was-empty'}",
        NUMBER: '${env:NOPE, 42}',
        NESTED: '${env:${opt:stage}_ARN}',
        CHAIN: "${env:NOPE, env:HOME_DIR, 'last'}",
      }),
      { stage: 'dev', env: { HOME_DIR: '/home/ops', EMPTY: '', dev_ARN: 'arn:dev' } },
    );
    expect(env(model)).toEqual({
      HOME_DIR: '/home/ops',
      UNSET: 'fallback',
      EMPTY: 'was-empty',
      NUMBER: '42',
      NESTED: 'arn:dev',
      CHAIN: '/home/ops',
    });
  });

  it('fails on an unset variable without a fallback, at its column', async () => {
    const text = withEnv({ KEY: 'prefix-${env:API_KEY}' });
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, '${env:API_KEY}')}: cannot resolve \${env:API_KEY}: environment variable API_KEY is not set`,
    );
  });
});

describe('file() includes', () => {
  const files = {
    'config/app.yml': 'model: gpt\nlimits:\n  steps: 5\nregion: ${aws:region}\n',
    'config/dev.json': '{ "db": { "name": "tasks-dev" } }',
    'notes.txt': 'plain text',
  };

  it('reads YAML and JSON files, whole or at a key, with variables inside them resolved', async () => {
    const model = await load(
      withEnv(
        {
          MODEL: '${file(./config/app.yml):model}',
          STEPS: '${self:custom.app.limits.steps}',
          REGION: '${self:custom.app.region}',
          DB: '${file(config/${sls:stage}.json):db.name}',
          TEXT: '${file(./notes.txt)}',
        },
        'custom:\n  app: ${file(./config/app.yml)}\n',
      ),
      {},
      files,
    );
    expect(env(model)).toEqual({ MODEL: 'gpt', STEPS: '5', REGION: 'us-east-1', DB: 'tasks-dev', TEXT: 'plain text' });
  });

  it('falls back when the file or the key is missing', async () => {
    const model = await load(
      withEnv({ A: "${file(./config/prod.json):db.name, 'none'}", B: "${file(./config/app.yml):nope, 'no-key'}" }),
      {},
      files,
    );
    expect(env(model)).toEqual({ A: 'none', B: 'no-key' });
  });

  it('fails on a missing file without a fallback, and on paths outside the service', async () => {
    const missing = withEnv({ A: '${file(./nope.yml):x}' });
    expect(await loadError(missing)).toContain('cannot resolve ${file(./nope.yml):x}: file nope.yml does not exist');
    expect(await loadError(withEnv({ A: '${file(../secrets.yml)}' }))).toContain(
      'a file outside the service directory',
    );
    expect(await loadError(withEnv({ A: '${file(./config.js):x}' }))).toContain(
      'JavaScript file variables are not supported',
    );
  });

  it('reports a problem inside an included file at its own line', async () => {
    const message = await loadError(
      withEnv({ A: '${file(./bad.yml):x}' }),
      {},
      { 'bad.yml': 'a: 1\nx: ${ssm:/secret}\n' },
    );
    expect(message).toBe("bad.yml:2:4: unsupported variable source 'ssm:' in ${ssm:/secret}");
  });

  it('reports invalid JSON with its line and column', async () => {
    const message = await loadError(withEnv({ A: '${file(./x.json)}' }), {}, { 'x.json': '{\n  "a": 1,\n}\n' });
    expect(message).toMatch(/^x\.json:3:1: invalid JSON/);
  });
});

describe('params and strToBool', () => {
  const params = 'params:\n  default:\n    timeout: 60\n    name: base\n  prod:\n    timeout: 600\n';

  it('reads the stage parameters, else the default ones', async () => {
    const text = withEnv({ T: '${param:timeout}', N: '${param:name}' }, params);
    expect(env(await load(text))).toEqual({ T: '60', N: 'base' });
    expect(env(await load(text, { stage: 'prod' }))).toEqual({ T: '600', N: 'base' });
  });

  it('reads strings as booleans', async () => {
    const model = await load(
      yml(
        'functions:\n  f:\n    handler: h.handler\n    events:\n      - sqs:\n          arn: arn:aws:sqs:us-east-1:000000000000:q\n          enabled: ${strToBool(${env:ENABLED})}\n',
      ),
      { env: { ENABLED: 'False' } },
    );
    expect(model.functions[0]?.events[0]).toEqual({
      sqs: { queueArn: 'arn:aws:sqs:us-east-1:000000000000:q', enabled: false },
    });
  });
});

describe('unsupported sources', () => {
  it.each([
    ['${ssm:/deputy/key}', 'ssm'],
    ['${cf:other-stack.Output}', 'cf'],
    ['${s3:bucket/key}', 's3'],
    ["${env:KEY, ssm:/deputy/key, 'x'}", 'ssm'],
  ])('rejects %s with its line and column', async (variable, source) => {
    const text = withEnv({ KEY: `"prefix ${variable}"` });
    expect(await loadError(text, { env: { KEY: 'set' } })).toBe(
      `serverless.yml:${at(text, variable)}: unsupported variable source '${source}:' in ${variable}`,
    );
  });

  it('rejects an unknown sls or aws variable', async () => {
    expect(await loadError(withEnv({ A: '${sls:nope}' }))).toContain("the sls source has 'stage' and 'instanceId'");
    expect(await loadError(withEnv({ A: '${aws:partition}' }))).toContain(
      "the aws source has 'region' and 'accountId'",
    );
  });

  it('points at the place of a syntax error', async () => {
    const text = withEnv({ A: "'${opt:stage, ${env:X}}'" });
    const message = await loadError(text);
    expect(message).toMatch(/^serverless\.yml:\d+:\d+: invalid variable syntax in/);
    expect(message).toContain('written without');
  });
});
