import type {Hook} from '@oclif/core'

import {azuremlProvider} from '../destinations/azureml/provider.js'

/** The built-in remote destination registers through the same hook an installed plugin uses (`local` is core). */
const hook: Hook<'trace-destination'> = async function () {
  return [azuremlProvider]
}

export default hook
