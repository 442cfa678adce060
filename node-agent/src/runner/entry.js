// Entry of a shard-runner process: compiles the TypeScript sources on load, as bin/weai-agent.js does.
const { join } = require('node:path');

process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || join(__dirname, '..', '..', '..', 'tsconfig.json');
require('@swc-node/register');
require('./runner.ts');
