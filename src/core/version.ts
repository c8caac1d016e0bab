// Version of the core's semantics. Bump it whenever the same config would give a different
// result (a changed default, formula or random stream): it is part of every run id, so a sweep
// never mixes records from different semantics.
export const CORE_SEMANTICS_VERSION = 1;
