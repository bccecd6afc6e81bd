export type InputType = 'string' | 'int' | 'double' | 'bool' | 'list' | 'object'

export interface InputSpec {
  type?: InputType
  default?: unknown
  description?: string
  /** prompt flow's chat markers (chat flows: the question and the history input). */
  is_chat_input?: boolean
  is_chat_history?: boolean
}

/** A chat flow's inputs and output (`is_chat_input`, `is_chat_history` or an input named chat_history, `is_chat_output`). */
export interface ChatSpec {
  input?: string
  history?: string
  output?: string
}

/** A flow ready to run lines: flex (a function or class) or DAG (nodes). */
export interface LoadedFlow {
  kind: 'flex' | 'dag' | 'prompty'
  /** Absolute flow folder. */
  dir: string
  /** The flow definition file (flow.flex.yaml / flow.dag.yaml). */
  file: string
  /** Name of the line's root span (the entry function, or the flow folder for DAG flows). */
  name: string
  inputs: Record<string, InputSpec>
  /** Sample inputs from the flow definition, if any. */
  sample?: Record<string, unknown>
  /** DAG flows: the node names (for `--node`). */
  nodes?: string[]
  /** Chat markers of the flow's inputs and outputs, when it has any. */
  chat?: ChatSpec
  /** DAG flows: the `--variant` in use (`${node.variant_id}`), if one was chosen. */
  variant?: string
  /** Problems that do not stop the flow (unknown keys…), printed once on stderr when the flow loads. */
  warnings?: string[]
  /** The user modules the flow imported (their module format decides which openai build is instrumented). */
  modules?: string[]
  /**
   * Runs one line inside the line's root span and returns its outputs. `node` runs one DAG node alone.
   * Throws on failure; the error is recorded on the spans by whoever threw it.
   */
  invoke(inputs: Record<string, unknown>, options?: {node?: string}): Promise<unknown>
  /** Flow-level aggregation (DAG aggregation nodes, or a flex `aggregate` export), run once after a batch. */
  aggregate?(lines: Array<{inputs: Record<string, unknown>; output: unknown}>): Promise<unknown>
}
