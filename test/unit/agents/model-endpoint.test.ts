import { describe, expect, it } from 'vitest';
import { ModelConfig } from '../../../shared/agents/schema.js';
import { ConfigError } from '../../../shared/errors.js';
import { resolveModelEndpoint } from '../../../shared/model/openai.js';
import { costUsd, priceOf } from '../../../shared/model/prices.js';

const openai = ModelConfig.parse({ name: 'gpt-4o-mini' });
const ollama = ModelConfig.parse({
  provider: 'ollama',
  name: 'llama3.1',
  baseUrlEnv: 'OLLAMA_URL',
  apiKeyEnv: 'OLLAMA_KEY',
});

describe('resolveModelEndpoint', () => {
  it('uses the key from the variable the agent names, with the default base URL', () => {
    // Act
    const endpoint = resolveModelEndpoint(openai, { OPENAI_API_KEY: 'sk-test' });

    // Assess
    expect(endpoint).toEqual({ baseURL: undefined, apiKey: 'sk-test', offline: false });
  });

  it('reaches a base URL without a key (a local endpoint)', () => {
    // Act
    const endpoint = resolveModelEndpoint(ollama, { OLLAMA_URL: 'http://127.0.0.1:11434/v1' });

    // Assess
    expect(endpoint).toEqual({ baseURL: 'http://127.0.0.1:11434/v1', apiKey: 'none', offline: false });
  });

  it('reads only the variables the agent names', () => {
    // Act
    const resolve = () => resolveModelEndpoint(ollama, { OPENAI_API_KEY: 'sk-test' });

    // Assess
    expect(resolve).toThrow(ConfigError);
    expect(resolve).toThrow('set OLLAMA_KEY (and OLLAMA_URL for a non-OpenAI endpoint)');
  });

  it('falls back to the offline recordings when no model is configured', () => {
    // Act
    const endpoint = resolveModelEndpoint(openai, { DEPUTY_OFFLINE_MODEL_URL: 'http://127.0.0.1:4566/model/v1' });

    // Assess
    expect(endpoint).toEqual({ baseURL: 'http://127.0.0.1:4566/model/v1', apiKey: 'offline-recording', offline: true });
  });

  it('prefers a configured model over the offline recordings', () => {
    // Act
    const endpoint = resolveModelEndpoint(openai, {
      OPENAI_API_KEY: 'sk-test',
      DEPUTY_OFFLINE_MODEL_URL: 'http://127.0.0.1:4566/model/v1',
    });

    // Assess
    expect(endpoint.offline).toBe(false);
  });

  it('treats empty variables as unset', () => {
    // Act
    const resolve = () => resolveModelEndpoint(openai, { OPENAI_API_KEY: '', OPENAI_BASE_URL: '' });

    // Assess
    expect(resolve).toThrow('no model is configured: set OPENAI_API_KEY');
  });
});

describe('prices', () => {
  it('finds a listed model and lets an agent override it', () => {
    // Act
    const listed = priceOf('gpt-4o-mini', {});
    const overridden = priceOf('gpt-4o-mini', { 'gpt-4o-mini': { input: 1, output: 2 } });

    // Assess
    expect(listed).toEqual({ input: 0.15, output: 0.6 });
    expect(overridden).toEqual({ input: 1, output: 2 });
    expect(priceOf('my-finetune', {})).toBeUndefined();
  });

  it('costs tokens per million and an unpriced model nothing', () => {
    // Act
    const cost = costUsd({ input: 2, output: 8 }, 1_000_000, 500_000);

    // Assess
    expect(cost).toBe(6);
    expect(costUsd(undefined, 1_000_000, 1_000_000)).toBe(0);
  });
});
