import type { ToolDefinition } from '../../shared/tools/types.js';
import issueRefund from './issue-refund.js';
import lookupOrder from './lookup-order.js';

/**
 * The project's own tools, by kind. An agent uses one with `use: <kind>` in its definition.
 * To add a tool: write a module like ./lookup-order.ts and list it here.
 */
// biome-ignore lint/suspicious/noExplicitAny: each tool has its own settings type
export const projectTools: ToolDefinition<any>[] = [lookupOrder, issueRefund];
