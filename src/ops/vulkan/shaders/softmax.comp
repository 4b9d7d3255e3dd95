#version 450
// Softmax, row reductions through shared memory: see softmax_rows.glsl.
#include "softmax_rows.glsl"
