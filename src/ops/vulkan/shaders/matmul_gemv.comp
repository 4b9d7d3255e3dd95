#version 450
// The few-row product (see matmul_gemv.glsl), partial sums added in a
// shared-memory tree: for devices without subgroup arithmetic.
#include "matmul_gemv.glsl"
