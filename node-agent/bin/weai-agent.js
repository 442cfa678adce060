#!/usr/bin/env node
// Runs the agent from its TypeScript sources (swc compiles on load). The repository's tsconfig is
// named explicitly so that the agent starts from any working directory.
const { join } = require('node:path');

process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || join(__dirname, '..', '..', 'tsconfig.json');
require('@swc-node/register');
require('../src/cli.ts');
