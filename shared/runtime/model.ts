import type { Agent } from '../agents/schema.js';
import { openAiModel, resolveModelEndpoint } from '../model/openai.js';
import type { ChatModel } from '../model/types.js';

/** The model part of the composition root: one client per agent, from the agent's model settings. */
export function modelsFrom(env: NodeJS.ProcessEnv = process.env): (agent: Agent) => ChatModel {
  const models = new Map<string, ChatModel>();
  return (agent) => {
    let m = models.get(agent.name);
    if (!m) {
      m = openAiModel(agent.model, resolveModelEndpoint(agent.model, env), { 'x-deputy-agent': agent.name });
      models.set(agent.name, m);
    }
    return m;
  };
}
