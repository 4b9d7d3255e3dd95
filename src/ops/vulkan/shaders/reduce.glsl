// Workgroup-wide sum and max for row kernels (one workgroup per row): each
// invocation brings its partial value; without ROW_SUBGROUP a shared-memory
// tree combines them pairwise (log2(WG) levels: a stable, balanced
// summation); with it each subgroup reduces its values (subgroupAdd/Max) and
// the per-subgroup results are combined in order. The includer declares
// `layout(constant_id = 0) const uint WG` (a power of two) and uses it as
// local_size_x. Every invocation of the workgroup must call these.

shared float reduce_scratch[WG];

#ifdef ROW_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

float workgroup_sum(float v) {
  v = subgroupAdd(v);
  if (subgroupElect()) reduce_scratch[gl_SubgroupID] = v;
  barrier();
  float total = reduce_scratch[0];
  for (uint s = 1; s < gl_NumSubgroups; ++s) total += reduce_scratch[s];
  barrier();  // the scratch is reused by the next reduction
  return total;
}

float workgroup_max(float v) {
  v = subgroupMax(v);
  if (subgroupElect()) reduce_scratch[gl_SubgroupID] = v;
  barrier();
  float total = reduce_scratch[0];
  for (uint s = 1; s < gl_NumSubgroups; ++s) total = max(total, reduce_scratch[s]);
  barrier();
  return total;
}

#else

float workgroup_sum(float v) {
  const uint lane = gl_LocalInvocationID.x;
  reduce_scratch[lane] = v;
  barrier();
  for (uint stride = WG / 2; stride > 0; stride >>= 1) {
    if (lane < stride) reduce_scratch[lane] += reduce_scratch[lane + stride];
    barrier();
  }
  const float total = reduce_scratch[0];
  barrier();  // the scratch is reused by the next reduction
  return total;
}

float workgroup_max(float v) {
  const uint lane = gl_LocalInvocationID.x;
  reduce_scratch[lane] = v;
  barrier();
  for (uint stride = WG / 2; stride > 0; stride >>= 1) {
    if (lane < stride)
      reduce_scratch[lane] = max(reduce_scratch[lane], reduce_scratch[lane + stride]);
    barrier();
  }
  const float total = reduce_scratch[0];
  barrier();
  return total;
}

#endif

// The row this workgroup handles: rows spread over a 2-D grid (grid_1d with
// one row per group) so there may be more than 65535 of them.
uint workgroup_row() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
