import { describe, expect, it } from 'vitest';
import { validateService } from '../../../local/serverless/index.js';
import { at, env, load, loadError, yml } from '../serverless/service-dir.js';

/** A user pool, its client and a group, as a service declares them for Cognito sign-in. */
const POOL = `resources:
  Resources:
    UserPool:
      Type: AWS::Cognito::UserPool
      Properties:
        UserPoolName: users
    UserPoolClient:
      Type: AWS::Cognito::UserPoolClient
      Properties:
        UserPoolId: !Ref UserPool
    Approvers:
      Type: AWS::Cognito::UserPoolGroup
      Properties:
        GroupName: refund-approver
        UserPoolId: !Ref UserPool
`;

function service(authorizers: string, events: string, environment = ''): string {
  const provider = authorizers ? `  httpApi:\n    authorizers:\n${authorizers}` : '';
  return yml(`functions:\n  api:\n    handler: h.handler\n${environment}    events:\n${events}${POOL}`, provider);
}

/** The handler module, so that validateService finds nothing else to report. */
const HANDLER = { 'h.ts': 'export const handler = async () => ({});\n' };

const OPERATORS = `      operators:
        type: jwt
        identitySource: $request.header.Authorization
        issuerUrl: !GetAtt UserPool.ProviderURL
        audience:
          - !Ref UserPoolClient
`;

describe('Cognito resources on the local cloud', () => {
  it('stands in for the user pool and its client with the local issuer, without warnings', async () => {
    const model = await load(
      service(
        '',
        "      - httpApi: 'GET /x'\n",
        `    environment:
      POOL_ID: !Ref UserPool
      POOL_ARN: !GetAtt UserPool.Arn
      POOL_ISSUER: !GetAtt UserPool.ProviderURL
      POOL_NAME: !GetAtt UserPool.ProviderName
      POOL_ID_ATT: !GetAtt UserPool.UserPoolId
      CLIENT_ID: !Ref UserPoolClient
      CLIENT_ID_ATT: !GetAtt UserPoolClient.ClientId
      ISSUER_SUB: !Sub 'https://cognito-idp.\${AWS::Region}.amazonaws.com/\${UserPool}'
`,
      ),
      { endpoint: 'http://127.0.0.1:4999' },
      HANDLER,
    );
    expect(model.warnings).toEqual([]);
    expect(env(model)).toEqual({
      POOL_ID: 'us-east-1_local',
      POOL_ARN: 'arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_local',
      POOL_ISSUER: 'http://127.0.0.1:4999/_deputy/identity',
      POOL_NAME: '127.0.0.1:4999/_deputy/identity',
      POOL_ID_ATT: 'us-east-1_local',
      CLIENT_ID: 'deputy-local',
      CLIENT_ID_ATT: 'deputy-local',
      ISSUER_SUB: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local',
    });
    expect(validateService(model)).toEqual([]);
  });

  it('takes the issuer URL from the options when given, and names unsupported attributes', async () => {
    const text = service(
      '',
      "      - httpApi: 'GET /x'\n",
      '    environment:\n      I: !GetAtt UserPool.ProviderURL\n',
    );
    expect(env(await load(text, { issuerUrl: 'http://localhost:9/issuer/' }))).toEqual({
      I: 'http://localhost:9/issuer',
    });
    const bad = service('', "      - httpApi: 'GET /x'\n", '    environment:\n      I: !GetAtt UserPool.Domain\n');
    expect(await loadError(bad)).toBe(
      `serverless.yml:${at(bad, '!GetAtt UserPool.Domain')}: Fn::GetAtt UserPool.Domain: a user pool (the local issuer) has no attribute 'Domain' in the local cloud (supported: Arn, ProviderName, ProviderURL, UserPoolId)`,
    );
  });
});

describe('HTTP API JWT authorizers', () => {
  it('loads a JWT authorizer of the user pool and the routes that use it, without warnings', async () => {
    const model = await load(
      service(
        OPERATORS,
        `      - httpApi:
          method: GET
          path: /me
          authorizer: operators
      - httpApi:
          method: POST
          path: /admin
          authorizer:
            name: operators
            scopes: [aws.cognito.signin.user.admin]
      - httpApi: 'GET /open'
`,
      ),
      {},
      HANDLER,
    );
    expect(model.warnings).toEqual([]);
    expect(model.httpApi).toEqual({
      authorizers: {
        operators: {
          name: 'operators',
          identitySource: '$request.header.Authorization',
          issuerUrl: 'http://127.0.0.1:4566/_deputy/identity',
          audience: ['deputy-local'],
          localIssuer: true,
        },
      },
    });
    expect(model.functions[0]?.events).toEqual([
      { httpApi: { method: 'GET', path: '/me', authorizer: { name: 'operators' } } },
      {
        httpApi: {
          method: 'POST',
          path: '/admin',
          authorizer: { name: 'operators', scopes: ['aws.cognito.signin.user.admin'] },
        },
      },
      { httpApi: { method: 'GET', path: '/open' } },
    ]);
    expect(validateService(model)).toEqual([]);
  });

  it("takes the pool's cognito-idp URL and an https ProviderName as the local issuer; another issuer is fetched", async () => {
    const authorizers = `      sub:
        identitySource: $request.header.Authorization
        issuerUrl: !Sub 'https://cognito-idp.\${AWS::Region}.amazonaws.com/\${UserPool}'
        audience: !Ref UserPoolClient
      joined:
        identitySource: $request.querystring.token
        issuerUrl: !Join ['', ['https://', !GetAtt UserPool.ProviderName]]
        audience: [deputy-local, other-client]
      auth0:
        type: jwt
        identitySource: $request.header.Authorization
        issuerUrl: https://example.eu.auth0.com/
        audience: https://api.example.com
`;
    const model = await load(service(authorizers, "      - httpApi: 'GET /x'\n"));
    const a = model.httpApi?.authorizers ?? {};
    expect(a.sub).toMatchObject({ issuerUrl: 'http://127.0.0.1:4566/_deputy/identity', localIssuer: true });
    expect(a.sub?.audience).toEqual(['deputy-local']);
    expect(a.joined).toMatchObject({
      identitySource: '$request.querystring.token',
      issuerUrl: 'http://127.0.0.1:4566/_deputy/identity',
      audience: ['deputy-local', 'other-client'],
      localIssuer: true,
    });
    expect(a.auth0).toMatchObject({ issuerUrl: 'https://example.eu.auth0.com/', localIssuer: false });
    expect(model.warnings).toEqual([
      "provider.httpApi.authorizers.auth0.issuerUrl https://example.eu.auth0.com/ is not a user pool of this service: the local HTTP API fetches that issuer's keys, and tokens of the local issuer are refused on routes using it",
    ]);
  });

  it('warns about Lambda (request) and IAM authorizers, whose routes are not authorized locally', async () => {
    const authorizers = `      custom:
        type: request
        functionName: api
`;
    const model = await load(
      service(
        authorizers,
        `      - httpApi:
          method: GET
          path: /custom
          authorizer: custom
      - httpApi:
          method: GET
          path: /iam
          authorizer:
            type: aws_iam
`,
      ),
    );
    expect(model.httpApi).toBeUndefined();
    expect(model.functions[0]?.events).toEqual([
      { httpApi: { method: 'GET', path: '/custom' } },
      { httpApi: { method: 'GET', path: '/iam' } },
    ]);
    expect(model.warnings).toEqual([
      'provider.httpApi.authorizers.custom is a Lambda (request) authorizer, which the local HTTP API does not emulate: routes using it are not authorized locally',
      'functions.api.events[1].httpApi.authorizer (aws_iam) is not emulated: the local HTTP API does not check IAM signatures',
    ]);
  });

  it('reports a route naming an authorizer the service does not declare, as the framework refuses it', async () => {
    const text = service(
      OPERATORS,
      '      - httpApi:\n          method: GET\n          path: /me\n          authorizer: admins\n',
    );
    const model = await load(text, {}, HANDLER);
    expect(model.warnings).toEqual([
      'functions.api.events[0].httpApi.authorizer is not emulated: the local HTTP API does not authorize requests',
    ]);
    expect(model.functions[0]?.events).toEqual([{ httpApi: { method: 'GET', path: '/me' } }]);
    expect(validateService(model)).toEqual([
      `serverless.yml:${at(text, 'method: GET')}: functions.api.events[0].httpApi.authorizer: 'admins' is not in provider.httpApi.authorizers (the framework refuses: "Event references not configured authorizer 'admins'")`,
    ]);
  });

  it('refuses a JWT authorizer without its settings or with an identity source API Gateway does not take', async () => {
    const missing = service(
      '      operators:\n        identitySource: $request.header.Authorization\n        issuerUrl: https://x\n',
      "      - httpApi: 'GET /x'\n",
    );
    expect(await loadError(missing)).toMatch(
      /: provider\.httpApi\.authorizers\.operators needs audience \(a JWT authorizer\)$/,
    );
    const source = service(
      OPERATORS.replace('$request.header.Authorization', 'Authorization'),
      "      - httpApi: 'GET /x'\n",
    );
    expect(await loadError(source)).toBe(
      `serverless.yml:${at(source, 'Authorization')}: provider.httpApi.authorizers.operators.identitySource must be $request.header.<Name> or $request.querystring.<name>, got 'Authorization'`,
    );
    const extra = service(`${OPERATORS}        scopes: [a]\n`, "      - httpApi: 'GET /x'\n");
    expect(await loadError(extra)).toContain("unknown property 'scopes' in provider.httpApi.authorizers.operators");
    const type = service(OPERATORS.replace('type: jwt', 'type: cognito'), "      - httpApi: 'GET /x'\n");
    expect(await loadError(type)).toContain('provider.httpApi.authorizers.operators.type must be jwt or request');
    const nameless = service(
      OPERATORS,
      '      - httpApi:\n          path: /x\n          method: GET\n          authorizer:\n            scopes: [a]\n',
    );
    expect(await loadError(nameless)).toContain('functions.api.events[0].httpApi.authorizer needs a name');
  });
});
