// Status and Expected<T> of the public API: every engine call returns one;
// ErrorCode::out_of_memory, cancelled and invalid_argument are the ones a
// caller acts on (docs/ENGINE.md).
#pragma once

#include "core/env_lookup.h"
#include "core/status.h"
