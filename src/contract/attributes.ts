/** prompt flow's span attribute names (spec: "Span attributes"); one place so every writer agrees. */
export const Attr = {
  framework: 'framework',
  spanType: 'span_type',
  function: 'function',
  inputs: 'inputs',
  output: 'output',
  lineRunId: 'line_run_id',
  batchRunId: 'batch_run_id',
  lineNumber: 'line_number',
  referencedLineRunId: 'referenced.line_run_id',
  referencedBatchRunId: 'referenced.batch_run_id',
  sessionId: 'session_id',
  generatedMessage: 'llm.generated_message',
  usageCompletion: 'llm.usage.completion_tokens',
  usagePrompt: 'llm.usage.prompt_tokens',
  usageTotal: 'llm.usage.total_tokens',
  cumulativeCompletion: '__computed__.cumulative_token_count.completion',
  cumulativePrompt: '__computed__.cumulative_token_count.prompt',
  cumulativeTotal: '__computed__.cumulative_token_count.total',
} as const

export const Resource = {
  serviceName: 'service.name',
  collection: 'collection',
  collectionId: 'collection.id',
  subscriptionId: 'subscription.id',
  resourceGroup: 'resource_group.name',
  workspaceName: 'workspace.name',
} as const

export const Events = {
  inputs: 'promptflow.function.inputs',
  output: 'promptflow.function.output',
  generatedMessage: 'promptflow.llm.generated_message',
} as const

export type SpanType = 'Flow' | 'Function' | 'LLM' | 'Tool' | 'Embedding' | 'Retrieval' | string

export const frameworkName = 'promptflow'
export const serviceName = 'promptflow'
