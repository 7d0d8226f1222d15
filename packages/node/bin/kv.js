#!/usr/bin/env node
// The `kv` command. This file is committed (the code is the built dist/cli.js), so installing the
// workspace links the bin before the first build instead of warning "Failed to create bin".
import { runProcess } from '../dist/cli.js';

await runProcess();
