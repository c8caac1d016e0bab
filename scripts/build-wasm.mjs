// Placeholder: the AssemblyScript kernel build is filled in by its own change.
console.log('narrowsweep: wasm kernel build not implemented yet.');
