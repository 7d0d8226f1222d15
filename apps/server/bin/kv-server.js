#!/usr/bin/env node
// The `kv-server` command (`npx @kv/server`). This file is committed (the code is the built
// dist/main.js), so installing the workspace links the bin before the first build instead of warning
// "Failed to create bin".
import '../dist/main.js';
