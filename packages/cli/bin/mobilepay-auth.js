#!/usr/bin/env node
// The published command: the compiled CLI (pnpm build writes dist/).
import "../dist/bin.js"
