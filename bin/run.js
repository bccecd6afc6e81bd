#!/usr/bin/env node
import {execute, settings} from '@oclif/core'

import {pluginDataDir} from '../dist/paths.js'

// Plugins (linked ones too) run their compiled JavaScript; pf never tries to transpile a plugin's TypeScript.
settings.enableAutoTranspile = false

// `pf plugins` installs into oclif's data folder: <pf home>/plugins unless PF_DATA_DIR names another.
process.env.PF_DATA_DIR = pluginDataDir()

await execute({dir: import.meta.url})
