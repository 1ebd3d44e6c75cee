#!/usr/bin/env node
// Entry point of the `unetc` command: registers tsx so the TypeScript sources run as they are
// (no build step between a checkout and a working CLI), then hands over to the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
