#!/usr/bin/env node
import path from 'node:path'

import {execute, settings} from '@oclif/core'

import {pfHome} from '../dist/paths.js'

// Plugins (linked ones too) run their compiled JavaScript; pf never tries to transpile a plugin's TypeScript.
settings.enableAutoTranspile = false

// `pf plugins` installs into oclif's data folder: <pf home>/plugins unless PF_DATA_DIR names another.
process.env.PF_DATA_DIR ||= path.join(pfHome(), 'plugins')

await execute({dir: import.meta.url})
