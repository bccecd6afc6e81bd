#!/usr/bin/env node
import {execute, settings} from '@oclif/core'

// Plugins (linked ones too) run their compiled JavaScript; pf never tries to transpile a plugin's TypeScript.
settings.enableAutoTranspile = false

await execute({dir: import.meta.url})
