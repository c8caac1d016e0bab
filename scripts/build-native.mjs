// Placeholder: the native addon build (issue 4) is filled in by its own change.
console.log('narrowsweep: native addon not built (not implemented yet); the wasm engine will be used.');
