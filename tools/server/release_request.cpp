#include "release_request.h"
