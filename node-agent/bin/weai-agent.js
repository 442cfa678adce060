#!/usr/bin/env node
// Runs the agent from its TypeScript sources (swc compiles on load).
require('@swc-node/register');
require('../src/cli.ts');
