/** A stored attribute that may hold JSON (inputs, output): its parsed value, or the text itself when it is not JSON. */
export const parseJsonOrText = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
