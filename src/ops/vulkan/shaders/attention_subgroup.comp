#version 450
// Flash attention with subgroup row reductions, for devices with subgroup
// arithmetic in compute shaders; see attention_flash.glsl.
#define ATTENTION_SUBGROUP
#include "attention_flash.glsl"
