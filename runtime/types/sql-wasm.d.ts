// sql.js ships no types; this declares the part we use of its wasm build (sql-wasm.js, the wasm given as `wasmBinary`).
declare module 'sql.js/dist/sql-wasm.js' {
  export type SqlValue = number | string | Uint8Array | null;
  export interface Statement {
    bind(params?: SqlValue[]): boolean;
    step(): boolean;
    get(): SqlValue[];
    getAsObject(): Record<string, SqlValue>;
    reset(): void;
    /** bind, step once, reset */
    run(params?: SqlValue[]): void;
    free(): boolean;
  }
  export interface Database {
    run(sql: string, params?: SqlValue[]): Database;
    exec(sql: string): { columns: string[]; values: SqlValue[][] }[];
    prepare(sql: string): Statement;
    export(): Uint8Array;
    close(): void;
    getRowsModified(): number;
  }
  export interface SqlJsStatic {
    Database: new (data?: ArrayLike<number> | Buffer | null) => Database;
  }
  export interface SqlJsConfig {
    wasmBinary?: Uint8Array;
    /** Emscripten's hook: instantiate the module with `imports` and hand over the instance */
    instantiateWasm?: (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) => object;
  }
  export default function initSqlJs(config?: SqlJsConfig): Promise<SqlJsStatic>;
}
