import { inProcessEngine } from './helpers.js';
import { describeClientSuite } from './suite.js';

const { fetch, url } = inProcessEngine();

describeClientSuite('engine in-process (MemoryStorage)', () => ({ url, fetch }));
