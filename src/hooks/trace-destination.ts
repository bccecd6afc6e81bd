import type {Hook} from '@oclif/core'

import {azuremlProvider} from '../destinations/azureml/provider.js'
import {localProvider} from '../destinations/local/provider.js'

/** The built-in destinations register through the same hook an installed plugin uses. */
const hook: Hook<'trace-destination'> = async function () {
  return [localProvider, azuremlProvider]
}

export default hook
