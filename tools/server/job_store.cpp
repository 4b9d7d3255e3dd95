#include "job_store.h"
