#version 450
// Flash attention with shared-memory row reductions (any device); see
// attention_flash.glsl for what it computes and the shapes.
#include "attention_flash.glsl"
