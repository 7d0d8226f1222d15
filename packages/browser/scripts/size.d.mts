/** One bundle's measurement. */
export interface BundleSize {
  /** Minified JavaScript, bytes. */
  bytes: number;
  /** The same gzipped at level 9, bytes. */
  gzipBytes: number;
  /** Number of modules in the bundle. */
  modules: number;
  /** Packages the modules come from (`@kv/core`, `idb`, ...). */
  packages: string[];
  /** Module ids of Node built-ins (or Vite's browser stub for them) found in the bundle. */
  nodeBuiltins: string[];
}
/** Source entry of @kv/browser. */
export declare const entry: string;
/** Directory of the example page. */
export declare const exampleRoot: string;
/** Gzipped size limits in bytes. */
export declare const BUDGETS: { library: number; example: number };
/** Bundles `libraryEntry` as a library with every dependency, minified, in memory, and measures it. */
export declare function measureLibrary(libraryEntry: string, cacheDir: string): Promise<BundleSize>;
/** Builds the example page with its own vite.config.ts, minified, in memory, and measures it. */
export declare function measureExample(cacheDir: string): Promise<BundleSize>;
/** Measures the whole @kv/browser API as a library and the example page. */
export declare function measureBundles(): Promise<{ library: BundleSize; example: BundleSize }>;
/** Node built-ins in a bundle and bundles over budget, as messages (empty when all is well). */
export declare function problems(result: { library: BundleSize; example: BundleSize }): string[];
