import {trace} from 'pf/sdk'

// Each call of a traced function is a span (name, inputs, output, duration) under the flow's root span.
const detectTopic = trace(function detectTopic(question: string): string {
  return /trace|span/i.test(question) ? 'tracing' : 'general'
})

const compose = trace(async function compose(topic: string, language: string): Promise<string> {
  const greeting = language === 'fr' ? 'Bonjour' : 'Hello'
  return topic === 'tracing'
    ? `${greeting}! pf records every function and LLM call of a flow as a span, locally and in the cloud.`
    : `${greeting}! Ask me about tracing.`
})

export async function answer({question, language}: {question: string; language: string}) {
  const topic = detectTopic(question)
  return {topic, answer: await compose(topic, language)}
}
