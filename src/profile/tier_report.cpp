#include "profile/tier_report.h"
