#include "lib/mathx.h"

int mathx_scale(int x) { return x * MATHX_FACTOR; }
