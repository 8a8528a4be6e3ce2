// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are serverless.yml and CloudFormation syntax, not templates
import { describe, expect, it } from 'vitest';
import { at, load, loadError, yml } from './service-dir.js';

const functions = 'functions:\n  hello-world:\n    handler: h.hello\n  commit:\n    handler: h.commit\n';
const queue =
  'resources:\n  Resources:\n    Inbox:\n      Type: AWS::SQS::Queue\n      Properties:\n        QueueName: inbox\n';

function machines(body: string): string {
  return yml(`plugins:\n  - serverless-step-functions\n${functions}stepFunctions:\n${body}${queue}`);
}

describe('state machines (serverless-step-functions)', () => {
  it('resolves intrinsics, function keys and #{} pseudo parameters, and runs the definition through Fn::Sub', async () => {
    const model = await load(
      machines(`  stateMachines:
    flow:
      name: svc-flow
      type: EXPRESS
      definition:
        Comment: 'in \${AWS::Region} for #{AWS::AccountId}, literal \${!Kept}'
        StartAt: Hello
        States:
          Hello:
            Type: Task
            Resource:
              Fn::GetAtt: [hello-world, Arn]
            Next: Wait
          Wait:
            Type: Wait
            Seconds: !FindInMap [Delays, short, seconds]
            Next: Notify
          Notify:
            Type: Task
            Resource: arn:aws:states:::sqs:sendMessage
            Parameters:
              QueueUrl: '#{Inbox}'
              MessageBody.$: $
            Next: Commit
          Commit:
            Type: Task
            Resource: arn:aws:states:::lambda:invoke
            Parameters:
              FunctionName: !Ref CommitLambdaFunction
            End: true
`).replace('resources:\n', 'resources:\n  Mappings:\n    Delays:\n      short: { seconds: 5 }\n'),
    );
    expect(model.stateMachines).toEqual([
      {
        logicalId: 'SvcDashflow',
        name: 'svc-flow',
        type: 'EXPRESS',
        definition: {
          Comment: 'in us-east-1 for 000000000000, literal ${Kept}',
          StartAt: 'Hello',
          States: {
            Hello: {
              Type: 'Task',
              Resource: 'arn:aws:lambda:us-east-1:000000000000:function:svc-dev-hello-world',
              Next: 'Wait',
            },
            Wait: { Type: 'Wait', Seconds: 5, Next: 'Notify' },
            Notify: {
              Type: 'Task',
              Resource: 'arn:aws:states:::sqs:sendMessage',
              Parameters: { QueueUrl: 'http://127.0.0.1:4566/000000000000/inbox', 'MessageBody.$': '$' },
              Next: 'Commit',
            },
            Commit: {
              Type: 'Task',
              Resource: 'arn:aws:states:::lambda:invoke',
              Parameters: { FunctionName: 'svc-dev-commit' },
              End: true,
            },
          },
        },
      },
    ]);
    expect(model.outputs).toEqual({ SvcDashflowArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:svc-flow' });
  });

  it('leaves ${...} alone in a definition without intrinsics, as the plugin does', async () => {
    const model = await load(
      machines(`  noOutput: true
  stateMachines:
    plain:
      definition:
        Comment: 'costs \${AWS::Region}'
        StartAt: Done
        States: { Done: { Type: Succeed } }
`),
    );
    expect(model.stateMachines[0]?.definition).toEqual({
      Comment: 'costs ${AWS::Region}',
      StartAt: 'Done',
      States: { Done: { Type: 'Succeed' } },
    });
    expect(model.stateMachines[0]?.type).toBe('STANDARD');
    expect(model.outputs).toBeUndefined();
  });

  it('reads a definition from a JSON file and a definition given as JSON text', async () => {
    const asl = JSON.stringify({
      StartAt: 'Commit',
      States: { Commit: { Type: 'Task', Resource: { 'Fn::GetAtt': ['CommitLambdaFunction', 'Arn'] }, End: true } },
    });
    const model = await load(
      machines(`  stateMachines:
    fromFile:
      definition: \${file(./statemachines/flow.asl.json)}
    fromText:
      definition: '{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}'
`),
      {},
      { 'statemachines/flow.asl.json': asl },
    );
    expect(model.stateMachines.map((m) => [m.logicalId, m.definition])).toEqual([
      [
        'FromFileStepFunctionsStateMachine',
        {
          StartAt: 'Commit',
          States: {
            Commit: {
              Type: 'Task',
              Resource: 'arn:aws:lambda:us-east-1:000000000000:function:svc-dev-commit',
              End: true,
            },
          },
        },
      ],
      ['FromTextStepFunctionsStateMachine', { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }],
    ]);
  });

  it('reports an unknown reference inside a definition file at its line there', async () => {
    const asl =
      '{\n  "StartAt": "A",\n  "States": {\n    "A": { "Type": "Task", "Resource": { "Fn::GetAtt": ["nope", "Arn"] }, "End": true }\n  }\n}\n';
    const message = await loadError(
      machines('  stateMachines:\n    flow:\n      definition: ${file(./flow.asl.json)}\n'),
      {},
      { 'flow.asl.json': asl },
    );
    expect(message).toMatch(
      new RegExp(
        `^flow\\.asl\\.json:${at(asl, '{ "Fn::GetAtt"')}: Fn::GetAtt nope\\.Arn refers to unknown logical id 'nope'`,
      ),
    );
  });

  it('rejects keys the plugin rejects, definitionString included, and a bad type', async () => {
    const text = machines('  stateMachines:\n    flow:\n      definitionString: "{}"\n');
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, 'definitionString')}: stepFunctions.stateMachines.flow.definitionString is not a serverless-step-functions key: give the JSON text to 'definition'`,
    );
    expect(await loadError(machines('  stateMachines:\n    flow:\n      defintion: {}\n'))).toContain(
      "unknown property 'defintion' in stepFunctions.stateMachines.flow",
    );
    expect(
      await loadError(
        machines('  stateMachines:\n    flow:\n      type: FAST\n      definition: { StartAt: A, States: {} }\n'),
      ),
    ).toContain('stepFunctions.stateMachines.flow.type must be STANDARD or EXPRESS, got "FAST"');
    expect(await loadError(machines('  stateMachines:\n    flow:\n      definition: "{ not json"\n'))).toContain(
      'stepFunctions.stateMachines.flow.definition is not valid JSON',
    );
  });

  it('warns about state machine events and activities', async () => {
    const model = await load(
      machines(
        '  activities:\n    - approve\n  stateMachines:\n    flow:\n      events:\n        - schedule: rate(1 hour)\n      definition: { StartAt: A, States: { A: { Type: Succeed } } }\n',
      ),
    );
    expect(model.warnings).toEqual([
      'stepFunctions.activities are not emulated by the local cloud',
      'stepFunctions.stateMachines.flow.events are not emulated by the local cloud',
    ]);
  });
});

describe('state machines as CloudFormation resources', () => {
  it('reads DefinitionString with Fn::Sub, and Definition with DefinitionSubstitutions', async () => {
    const model = await load(
      yml(`${functions}resources:
  Resources:
    Flow:
      Type: AWS::StepFunctions::StateMachine
      Properties:
        StateMachineName: !Sub '\${AWS::StackName}-flow'
        DefinitionString: !Sub |
          {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"\${HelloDashworldLambdaFunction.Arn}","End":true}}}
    Other:
      Type: AWS::StepFunctions::StateMachine
      Properties:
        StateMachineType: EXPRESS
        Definition:
          StartAt: B
          States:
            B: { Type: Task, Resource: '\${Commit}', End: true }
        DefinitionSubstitutions:
          Commit: !GetAtt CommitLambdaFunction.Arn
`),
    );
    expect(model.stateMachines).toEqual([
      {
        logicalId: 'Flow',
        name: 'svc-dev-flow',
        type: 'STANDARD',
        definition: {
          StartAt: 'A',
          States: {
            A: {
              Type: 'Task',
              Resource: 'arn:aws:lambda:us-east-1:000000000000:function:svc-dev-hello-world',
              End: true,
            },
          },
        },
      },
      {
        logicalId: 'Other',
        name: 'svc-dev-other',
        type: 'EXPRESS',
        definition: {
          StartAt: 'B',
          States: {
            B: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:svc-dev-commit', End: true },
          },
        },
      },
    ]);
  });
});
