/**
 * Entry point of the kv console (served by the server at `/console/`; docs/console.md).
 *
 * @module
 */
import { render } from 'preact';
import { App } from './app.js';
import './style.css';

render(<App />, document.getElementById('app')!);
