/**
 * USD per million tokens for common models (OpenAI's published list prices; check before relying on
 * them). An agent's `budgets.prices` overrides or extends this table. A model in neither costs 0 and
 * its responses are stored with `priceKnown: false`, so a cost budget cannot silently pretend.
 */
export const DEFAULT_PRICES: Record<string, { input: number; output: number }> = {
  'gpt-4o': { input: 2.5, output: 10 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
  'gpt-4.1': { input: 2, output: 8 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4 },
  'gpt-5': { input: 1.25, output: 10 },
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'o4-mini': { input: 1.1, output: 4.4 },
};

export function priceOf(
  model: string,
  overrides: Record<string, { input: number; output: number }>,
): { input: number; output: number } | undefined {
  return overrides[model] ?? DEFAULT_PRICES[model];
}

export function costUsd(price: { input: number; output: number } | undefined, inTok: number, outTok: number): number {
  if (!price) return 0;
  return (inTok * price.input + outTok * price.output) / 1_000_000;
}
