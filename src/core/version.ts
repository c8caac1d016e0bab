// Version of the core's semantics. Bump it whenever the same config would give a different
// result (a changed default, formula or random stream): it is part of every run id, so a sweep
// never mixes records from different semantics.
// 2: mirrored pairs interleaved (F(W0, v0) = 0 exactly in floating point), minibatch order keyed on
//    (seed, n, d, batch, data) only, float32 runs centred on the float32 W0, teacher width d by default.
// 3: lambda_max for `lr: auto` by Lanczos to 1e-12 (was a power iteration to 1e-6), so lrUsed changes
//    in its 6th digit; test metrics on the run's engine (float32 runs: in float32); default certificateMaxN 4000.
export const CORE_SEMANTICS_VERSION = 3;
