// Shared by every shader: tensors arrive as buffer device addresses in the
// push constants (no descriptor sets), shapes as 32-bit push constants.
// bf16 is read as uint16 and widened; int8 as int8_t; all math is f32.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_scalar_block_layout : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int8 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require

layout(buffer_reference, scalar, buffer_reference_align = 4) buffer F32 { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) buffer I32 { int v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 2) buffer U16 { uint16_t v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 1) buffer I8 { int8_t v[]; };

float bf16_to_f32(uint16_t bits) { return uintBitsToFloat(uint(bits) << 16); }

// The flat index of this invocation for a 1-D launch spread over a 2-D grid
// of workgroups (launch.h grid_1d: x up to 65535 groups, then y), with
// `workgroup` invocations per group. Pass the specialization constant that
// sets local_size_x: gl_WorkGroupSize is NOT reliable with local_size_x_id
// (glslc -O folds it to the declared default; lavapipe then indexes wrong).
uint flat_index(uint workgroup) {
  return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * workgroup +
         gl_LocalInvocationID.x;
}
