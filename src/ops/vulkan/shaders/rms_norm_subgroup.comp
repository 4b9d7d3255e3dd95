#version 450
// RMSNorm, row reductions by subgroup arithmetic (devices that have it): see
// rms_norm_rows.glsl.
#define ROW_SUBGROUP
#include "rms_norm_rows.glsl"
