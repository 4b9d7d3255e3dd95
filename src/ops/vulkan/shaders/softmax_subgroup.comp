#version 450
// Softmax, row reductions by subgroup arithmetic (devices that have it): see
// softmax_rows.glsl.
#define ROW_SUBGROUP
#include "softmax_rows.glsl"
