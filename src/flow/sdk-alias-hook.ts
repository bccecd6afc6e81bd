// Module resolve hook (node:module register): maps `pf/sdk` to the running pf's SDK.
let sdkEntry = ''

export async function initialize(data: {sdkEntry: string}): Promise<void> {
  sdkEntry = data.sdkEntry
}

export async function resolve(
  specifier: string,
  context: unknown,
  next: (specifier: string, context: unknown) => Promise<unknown>,
): Promise<unknown> {
  if (specifier === 'pf/sdk') return {url: sdkEntry, shortCircuit: true}
  return next(specifier, context)
}
