"""Independent PyTorch reference of the ACE-Step 1.5 components.

Written only from docs/spec (shared/spec/acestep-model.md), not from the
acefit C++ code nor from any other implementation. Everything runs in
float32 on the CPU (the APG projection in float64, as the spec says).
"""
