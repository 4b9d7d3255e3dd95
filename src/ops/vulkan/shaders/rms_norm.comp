#version 450
// RMSNorm, row reductions through shared memory: see rms_norm_rows.glsl.
#include "rms_norm_rows.glsl"
