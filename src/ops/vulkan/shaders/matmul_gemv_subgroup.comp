#version 450
// The few-row product (see matmul_gemv.glsl), partial sums added with
// subgroupAdd: for devices with subgroup arithmetic.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#define MATMUL_GEMV_SUBGROUP 1
#include "matmul_gemv.glsl"
